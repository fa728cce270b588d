"""Blocking checks on the forecast: nothing missing or negative, horizon complete, band ordered, coherent."""

import dagster as dg
import polars as pl

from sop_pipeline.defs.forecasting.assets import FORECAST
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.forecasting import validation
from sop_pipeline.store import db

FORECAST_VALUES_VALID = "forecast_values_valid"
FORECAST_HORIZON_COMPLETE = "forecast_horizon_complete"
FORECAST_HIERARCHY_COHERENT = "forecast_hierarchy_coherent"
COHERENCE_TOLERANCE = 1e-6


@dg.asset_check(asset=FORECAST, name=FORECAST_VALUES_VALID, blocking=True, partitions_def=plan_cycles,
                description="Great Expectations: no missing or negative forecasts; yhat_lower <= yhat <= yhat_upper.")
def forecast_values_valid(forecast: pl.DataFrame) -> dg.AssetCheckResult:
    frame = forecast.to_pandas()
    report = validation.validate_forecast(frame)
    return dg.AssetCheckResult(passed=report.passed and len(frame) > 0, severity=dg.AssetCheckSeverity.ERROR,
                               description=report.summary() if len(frame) else "the forecast is empty",
                               metadata={"rows_checked": dg.MetadataValue.int(report.rows_checked)})


@dg.asset_check(asset=FORECAST, name=FORECAST_HORIZON_COMPLETE, blocking=True, partitions_def=plan_cycles,
                description="Every series has exactly forecast.horizon_months months, starting at the cycle.")
def forecast_horizon_complete(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings,
                              database: PlanDatabase) -> dg.AssetCheckResult:
    horizon = sop_settings.load().forecast.horizon_months
    with database.connect() as conn:
        gaps = db.query_pl(conn, db.sql_text("forecast_horizon_gaps"),
                           {"plan_cycle": cycle_of(context), "horizon": horizon})
    description = (f"all series cover {horizon} months" if gaps.is_empty() else
                   "series with an incomplete horizon, e.g. " + "; ".join(
                       f"{r['level']} {r['series_key']}: {r['months']} months {r['first_month']}..{r['last_month']}"
                       for r in gaps.iter_rows(named=True)))
    return dg.AssetCheckResult(passed=gaps.is_empty(), severity=dg.AssetCheckSeverity.ERROR, description=description)


@dg.asset_check(asset=FORECAST, name=FORECAST_HIERARCHY_COHERENT, blocking=True, partitions_def=plan_cycles,
                description="Each family equals the sum of its SKUs and the total the sum of families (to 1e-6).")
def forecast_hierarchy_coherent(context: dg.AssetCheckExecutionContext, database: PlanDatabase) -> dg.AssetCheckResult:
    with database.connect() as conn:
        worst = db.query_pl(conn, db.sql_text("forecast_coherence"), {"plan_cycle": cycle_of(context)})
    largest = float(worst["gap"].max() or 0.0) if worst.height else 0.0
    passed = largest <= COHERENCE_TOLERANCE
    description = (f"coherent: largest gap {largest:.2e} units" if passed else
                   "incoherent: " + "; ".join(f"{r['relation']} {r['series']} {r['month']}: gap {r['gap']:.6f}"
                                              for r in worst.iter_rows(named=True)))
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.ERROR, description=description,
                               metadata={"largest_gap": dg.MetadataValue.float(largest)})
