"""Forecast stage: Prophet forecasts at total, family and SKU level, with backtested accuracy."""

import base64
import time

import dagster as dg
import polars as pl

from sop_pipeline.defs.metadata import markdown_table, table_metadata
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.forecasting import forecast_demand, plot_forecast_png
from sop_pipeline.store import db

GROUP = "forecast"
PLOTTED_FAMILIES = 4


def _progress_logger(context, label: str):
    """Log fits as they finish, about every tenth of the work (a long step must show it is alive)."""
    state = {"next": 0.0, "started": time.perf_counter()}

    def report(done: int, total: int, _series: str) -> None:
        if total and (done / total >= state["next"] or done == total):
            elapsed = time.perf_counter() - state["started"]
            context.log.info(f"{label}: {done:,}/{total:,} fits ({elapsed:.0f}s)")
            state["next"] = done / total + 0.1

    return report


def _accuracy_summary(accuracy: pl.DataFrame) -> pl.DataFrame:
    """Family-level backtest WAPE per method, pooled over families (the approach choice's evidence)."""
    family = accuracy.filter((pl.col("level") == "family") & pl.col("sum_actual").is_not_null())
    return (family.group_by("method")
            .agg((pl.col("sum_abs_error").sum() / pl.col("sum_actual").sum()).alias("pooled_wape"),
                 pl.col("wape").median().alias("median_family_wape"), pl.len().alias("families"))
            .sort("pooled_wape"))


def _models_label(fc) -> str:
    return fc.models if isinstance(fc.models, str) else ", ".join(m.name for m in fc.models)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["sop", "forecast"], deps=[dg.AssetKey(["sop", "demand_history"])], group_name=GROUP,
                     kinds={"prophet", "duckdb"},
                     description="Statistical forecast for the horizon at total, family and SKU level, "
                                 "coherent (families = sum of SKUs), with a prediction band."),
        dg.AssetSpec(["sop", "forecast_accuracy"], deps=[dg.AssetKey(["sop", "demand_history"])], group_name=GROUP,
                     kinds={"prophet", "duckdb"},
                     description="Backtest accuracy (WAPE, MAPE, bias, MASE) per level, series and method, "
                                 "beside the seasonal-naive baseline."),
    ],
    partitions_def=plan_cycles,
)
def forecast(context: dg.AssetExecutionContext, sop_settings: SopSettings, database: PlanDatabase):
    settings = sop_settings.load()
    cycle = cycle_of(context)
    with database.connect() as conn:
        history = db.read_cycle(conn, "demand_history", cycle)
        warm = db.query_pl(conn, db.sql_text("forecast_warm_start_params"), {"plan_cycle": cycle})
    fc = settings.forecast
    context.log.info(
        f"Forecasting {history['sku'].n_unique():,} SKUs in {history['family'].n_unique()} families, "
        f"{fc.horizon_months} months from {cycle:%Y-%m} ({fc.engine} engine, models {_models_label(fc)}, "
        f"{fc.executor} executor, {fc.resolved_workers() if fc.executor == 'local' else 'cluster'} workers, "
        f"{warm.height:,} warm-start parameter sets)")
    result = forecast_demand(history, fc, cycle, warm_start_params=warm if warm.height else None,
                             progress=_progress_logger(context, "Prophet"))
    with database.connect() as conn:
        db.replace_cycle(conn, "forecast", cycle, result.forecast)
        db.replace_cycle(conn, "forecast_accuracy", cycle, result.accuracy)
        db.replace_cycle(conn, "forecast_model_params", cycle, result.params)

    stats = {k: v for k, v in result.stats.items() if isinstance(v, (int, float, str, bool)) or v is None}
    largest = (history.group_by("family").agg(pl.col("units").sum()).sort("units", descending=True)
               ["family"].head(PLOTTED_FAMILIES).to_list())
    png = plot_forecast_png(history, result.forecast, largest)
    plot_md = f"![history and forecast](data:image/png;base64,{base64.b64encode(png).decode()})"
    family_models = (result.forecast.filter(pl.col("level") == "family")
                     .group_by("series_key").agg(pl.col("model").first()).rename({"series_key": "family"}))
    approaches = pl.DataFrame({"family": list(result.approach_by_family),
                               "approach": list(result.approach_by_family.values())}).join(
        family_models, on="family", how="left")
    context.log.info("Per family: " + ", ".join(
        f"{row['family']} {row['approach']} ({row['model']})" for row in approaches.head(12).iter_rows(named=True))
        + (f", ... ({approaches.height} families)" if approaches.height > 12 else ""))
    summary = _accuracy_summary(result.accuracy)
    if summary.is_empty():
        notes = result.accuracy["note"].drop_nulls().unique()
        context.log.warning("No backtest: " + (notes[0] if notes.len() else "too little history"))
    else:
        context.log.info("Backtest, family level: " + ", ".join(
            f"{m} WAPE {w:.1%}" for m, w in zip(summary["method"], summary["pooled_wape"]) if w is not None))
    yield dg.MaterializeResult(
        asset_key=["sop", "forecast"],
        metadata=table_metadata(
            result.forecast, "sop.forecast",
            approach_by_family=dg.MetadataValue.md(markdown_table(approaches, rows=100)),
            plot=dg.MetadataValue.md(plot_md),
            fit_stats=dg.MetadataValue.json(stats),
        ),
    )
    yield dg.MaterializeResult(
        asset_key=["sop", "forecast_accuracy"],
        metadata=table_metadata(result.accuracy, "sop.forecast_accuracy",
                                family_accuracy=dg.MetadataValue.md(markdown_table(summary, digits=3))),
    )
