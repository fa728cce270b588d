"""Checks on the alignment stage: the capacity plan fits its hours, the budget gap adds up (blocking);
high-severity exceptions are flagged for the meeting (a warning, never blocking)."""

import dagster as dg
import polars as pl

from sop_pipeline.alignment.budget import gap_errors
from sop_pipeline.alignment.capacity import capacity_errors
from sop_pipeline.defs.alignment.assets import BUDGET_GAP, CAPACITY_PLAN, EXCEPTIONS
from sop_pipeline.defs.metadata import check_result, markdown_table
from sop_pipeline.defs.partitions import plan_cycles

CAPACITY_PLAN_WITHIN_HOURS = "capacity_plan_within_hours"
BUDGET_GAP_ADDS_UP = "budget_gap_adds_up"
NO_HIGH_SEVERITY_EXCEPTIONS = "no_high_severity_exceptions"


@dg.asset_check(asset=CAPACITY_PLAN, name=CAPACITY_PLAN_WITHIN_HOURS, blocking=True, partitions_def=plan_cycles,
                description="The chosen plan uses no more hours of any work centre than it has in any month, and "
                            "utilization = hours required / hours available in every row.")
def capacity_plan_within_hours(frame: pl.DataFrame) -> dg.AssetCheckResult:
    return check_result(capacity_errors(frame), f"{frame.height:,} rows within their hours",
                        rows_checked=dg.MetadataValue.int(frame.height))


@dg.asset_check(asset=BUDGET_GAP, name=BUDGET_GAP_ADDS_UP, blocking=True, partitions_def=plan_cycles,
                description="gap = plan - budget in every row and the ALL FAMILIES rows are the families' sums, "
                            "to the cent.")
def budget_gap_adds_up(frame: pl.DataFrame) -> dg.AssetCheckResult:
    return check_result(gap_errors(frame), f"{frame.height:,} rows add up",
                        rows_checked=dg.MetadataValue.int(frame.height))


@dg.asset_check(asset=EXCEPTIONS, name=NO_HIGH_SEVERITY_EXCEPTIONS, blocking=False, partitions_def=plan_cycles,
                description="Warns (never stops the cycle) when exceptions of high severity need a decision.")
def no_high_severity_exceptions(frame: pl.DataFrame) -> dg.AssetCheckResult:
    high = frame.filter(pl.col("severity") == "high")
    return dg.AssetCheckResult(
        passed=high.is_empty(), severity=dg.AssetCheckSeverity.WARN,
        description=(f"{high.height} high-severity exception(s) need a decision, "
                     f"{high['money_at_stake'].sum():,.0f} in money at stake" if high.height
                     else "no high-severity exceptions"),
        metadata={"high_severity": dg.MetadataValue.int(high.height),
                  "decisions": dg.MetadataValue.md(markdown_table(high.select("kind", "money_at_stake", "message"),
                                                                  rows=20, digits=0))})
