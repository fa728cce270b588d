"""Ingest stage: the user's sales files into `raw.sales_history`, then monthly `sop.demand_history`."""


from datetime import datetime

import dagster as dg

from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.ingest import load as ingest
from sop_pipeline.store import db
from sop_pipeline.track_record import backfill

GROUP = "ingest"


@dg.asset(
    key=["raw", "sales_history"],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb"},
    description="The sales files as read (CSV or Parquet, the user's column names mapped), one load per plan cycle.",
)
def raw_sales_history(context: dg.AssetExecutionContext, sop_settings: SopSettings,
                      database: PlanDatabase) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    context.log.info(f"Loading sales history from {settings.sales_path} for plan cycle {cycle:%Y-%m}")
    started = datetime.now()
    with database.connect() as conn:
        before = backfill.history_cut(context.run.tags, cycle)
        if before is not None:
            context.log.info(f"Backfilled cycle: only sales dated before {before.isoformat()} are read")
        summary = ingest.load_sales(conn, settings, cycle, before=before)
    seconds = (datetime.now() - started).total_seconds()
    context.log.info(f"Loaded {summary['rows']:,} sales rows from {len(summary['files'])} file(s) in {seconds:.1f}s")
    if summary["dropped_blank_rows"]:
        context.log.info(f"Left out {summary['dropped_blank_rows']:,} rows with a blank family or SKU "
                         "(sales.drop_blank_rows: true)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(summary["rows"]),
        "dagster/table_name": dg.MetadataValue.text("raw.sales_history"),
        "source_files": dg.MetadataValue.json(summary["files"]),
        "format": summary["format"],
        "dropped_blank_rows": dg.MetadataValue.int(summary["dropped_blank_rows"]),
        "load_seconds": dg.MetadataValue.float(seconds),
    })


@dg.asset(
    key=["sop", "demand_history"],
    deps=[raw_sales_history],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "sql"},
    description="Cleaned monthly demand per family and SKU (zero-filled between a SKU's first and last sale).",
)
def demand_history(context: dg.AssetExecutionContext, database: PlanDatabase) -> dg.MaterializeResult:
    with database.connect() as conn:
        monthly = db.query_pl(conn, db.sql_text("demand_history_monthly"), {"plan_cycle": cycle_of(context)})
    monthly = monthly.drop("plan_cycle")
    families = monthly["family"].n_unique() if monthly.height else 0
    skus = monthly.select(["family", "sku"]).unique().height if monthly.height else 0
    context.log.info(f"Monthly history: {families} families, {skus} SKUs, {monthly.height:,} SKU-months")
    return dg.MaterializeResult(value=monthly, metadata={
        "families": dg.MetadataValue.int(families), "skus": dg.MetadataValue.int(skus),
        "first_month": str(monthly["month"].min()) if monthly.height else "",
        "last_month": str(monthly["month"].max()) if monthly.height else "",
    })
