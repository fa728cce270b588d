"""Blocking data checks on the ingest stage: bad sales data stops the run before anything is planned."""



import dagster as dg

from sop_pipeline.common.months import month_end
from sop_pipeline.common.validation import CHUNK_ROWS
from sop_pipeline.defs.ingest.assets import demand_history, raw_sales_history
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.ingest import load as ingest
from sop_pipeline.ingest import validation
from sop_pipeline.store import db

RAW_SALES_VALID = "raw_sales_valid"
DEMAND_HISTORY_USABLE = "demand_history_usable"


@dg.asset_check(asset=raw_sales_history, name=RAW_SALES_VALID, blocking=True, partitions_def=plan_cycles,
                description="Great Expectations suite (run in DuckDB): dates parse and are not after the cycle, units numeric "
                            "and not negative (unless sales.allow_returns), SKU present, at least one row.")
def raw_sales_valid(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings,
                    database: PlanDatabase) -> dg.AssetCheckResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    with database.connect() as conn:
        report = validation.validate_raw_sales(
            ingest.raw_batches(conn, cycle, CHUNK_ROWS), month_end(cycle), settings.sales.allow_returns)
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata={
            "rows_checked": dg.MetadataValue.int(report.rows_checked),
            "failures": dg.MetadataValue.json([
                {"problem": f.problem, "column": f.column, "rows": f.unexpected_count, "examples": f.examples}
                for f in report.failures]),
        },
    )


@dg.asset_check(asset=demand_history, name=DEMAND_HISTORY_USABLE, blocking=True, partitions_def=plan_cycles,
                description="Monthly history exists before the cycle, one row per family, SKU and month.")
def demand_history_usable(context: dg.AssetCheckExecutionContext, database: PlanDatabase) -> dg.AssetCheckResult:
    cycle = cycle_of(context)
    with database.connect() as conn:
        rows, duplicates, families = conn.execute(db.sql_text("demand_history_shape"), {"c": cycle}).fetchall()[0]
    problems = []
    if rows == 0:
        problems.append(f"no whole month of sales before the plan cycle {cycle:%Y-%m}: "
                        "pass a later --cycle or load more history")
    if duplicates:
        problems.append(f"{duplicates} duplicated family/SKU/month rows")
    return dg.AssetCheckResult(
        passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or f"{rows:,} SKU-months in {families} families",
        metadata={"rows": dg.MetadataValue.int(rows), "families": dg.MetadataValue.int(families)},
    )
