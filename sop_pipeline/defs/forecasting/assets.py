"""Forecast stage: Prophet forecasts at total, family and SKU level, with backtested accuracy."""

import base64
import time

import dagster as dg
import polars as pl

from sop_pipeline import forecasting  # its names load when the step runs (Prophet, Matplotlib), not at import
from sop_pipeline.defs.metadata import markdown_table
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import ForecastWorkers, PlanDatabase, SopSettings, cycle_of
from sop_pipeline.forecasting import summary
from sop_pipeline.store import db

GROUP = "forecast"
HISTORY = dg.AssetKey(["sop", "demand_history"])
FORECAST = dg.AssetKey(["sop", "forecast"])
FORECAST_ACCURACY = dg.AssetKey(["sop", "forecast_accuracy"])
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


@dg.multi_asset(
    outs={
        "forecast": dg.AssetOut(
            key=FORECAST, group_name=GROUP, kinds={"prophet", "duckdb"},
            description="Statistical forecast for the horizon at total, family and SKU level, coherent "
                        "(families = sum of SKUs), with a prediction band."),
        "forecast_accuracy": dg.AssetOut(
            key=FORECAST_ACCURACY, group_name=GROUP, kinds={"prophet", "duckdb"},
            description="Backtest accuracy (WAPE, MAPE, bias, MASE) per level, series and method, beside the "
                        "seasonal-naive baseline."),
    },
    ins={"history": dg.AssetIn(HISTORY)},
    partitions_def=plan_cycles,
)
def forecast(context: dg.AssetExecutionContext, sop_settings: SopSettings, database: PlanDatabase,
             forecast_workers: ForecastWorkers, history: pl.DataFrame):
    settings = sop_settings.load()
    cycle = cycle_of(context)
    with database.connect() as conn:  # the published fits of earlier cycles, not a draft table of this one
        warm = db.query_pl(conn, db.sql_text("forecast_warm_start_params"), {"plan_cycle": cycle})
    fc = settings.forecast
    context.log.info(
        f"Forecasting {history['sku'].n_unique():,} SKUs in {history['family'].n_unique()} families, "
        f"{fc.horizon_months} months from {cycle:%Y-%m} ({fc.engine} engine, models {summary.models_label(fc.models)}, "
        f"{fc.executor} executor, {fc.resolved_workers() if fc.executor == 'local' else 'cluster'} workers, "
        f"{warm.height:,} warm-start parameter sets)")
    result = forecasting.forecast_demand(history, fc, cycle, warm_start_params=warm if warm.height else None,
                             progress=_progress_logger(context, "Prophet"))
    # The fitted parameters are no asset of their own (the next cycle's warm start reads them once
    # published): written beside the two outputs, published with them.
    with database.connect() as conn:
        db.replace_cycle(conn, "forecast_model_params", cycle, result.params)

    stats = {k: v for k, v in result.stats.items() if isinstance(v, (int, float, str, bool)) or v is None}
    png = forecasting.plot_forecast_png(history, result.forecast, summary.largest_families(history, PLOTTED_FAMILIES))
    plot_md = f"![history and forecast](data:image/png;base64,{base64.b64encode(png).decode()})"
    approaches = summary.approach_table(result.forecast, result.approach_by_family)
    context.log.info("Per family: " + ", ".join(
        f"{row['family']} {row['approach']} ({row['model']})" for row in approaches.head(12).iter_rows(named=True))
        + (f", ... ({approaches.height} families)" if approaches.height > 12 else ""))
    accuracy = summary.accuracy_summary(result.accuracy)
    if accuracy.is_empty():
        notes = result.accuracy["note"].drop_nulls().unique()
        context.log.warning("No backtest: " + (notes[0] if notes.len() else "too little history"))
    else:
        context.log.info("Backtest, family level: " + ", ".join(
            f"{m} WAPE {w:.1%}" for m, w in zip(accuracy["method"], accuracy["pooled_wape"]) if w is not None))
    yield dg.MaterializeResult(asset_key=FORECAST, value=result.forecast, metadata={
        "approach_by_family": dg.MetadataValue.md(markdown_table(approaches, rows=100)),
        "plot": dg.MetadataValue.md(plot_md),
        "fit_stats": dg.MetadataValue.json(stats),
    })
    yield dg.MaterializeResult(asset_key=FORECAST_ACCURACY, value=result.accuracy, metadata={
        "family_accuracy": dg.MetadataValue.md(markdown_table(accuracy, digits=3))})
