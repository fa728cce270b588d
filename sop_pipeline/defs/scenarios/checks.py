"""Blocking checks on the scenarios: every scenario's stocks balance, and the base scenario is the published plan."""

import dagster as dg
import polars as pl

from sop_pipeline.defs.metadata import check_result
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import SopSettings
from sop_pipeline.defs.scenarios.assets import SCENARIO_PLAN
from sop_pipeline.defs.supply.assets import PRODUCTION_PLAN
from sop_pipeline.scenarios import compare

SCENARIO_PLAN_BALANCES = "scenario_plan_balances"
BASE_SCENARIO_EQUALS_PLAN = "base_scenario_equals_plan"


@dg.asset_check(asset=SCENARIO_PLAN, name=SCENARIO_PLAN_BALANCES, blocking=True, partitions_def=plan_cycles,
                description="Every scenario, family and month: beginning - beginning backlog + production - planned "
                            "units = ending - backlog, each month beginning with the previous ending.")
def scenario_plan_balances(frame: pl.DataFrame) -> dg.AssetCheckResult:
    if frame.is_empty():  # no planning section: nothing was planned, nothing to balance
        return check_result([], "no scenario rows (no planning section)")
    errors = compare.balance_errors(frame)
    return check_result(errors, f"{frame.height:,} scenario-family-months balance in {frame['scenario'].n_unique()} "
                        "scenarios", rows_checked=dg.MetadataValue.int(frame.height))


@dg.asset_check(asset=SCENARIO_PLAN, name=BASE_SCENARIO_EQUALS_PLAN, blocking=True, partitions_def=plan_cycles,
                additional_ins={"production": dg.AssetIn(PRODUCTION_PLAN)},
                description="The base scenario's rows equal the production plan of planning.strategy, family by "
                            "family and month by month.")
def base_scenario_equals_plan(sop_settings: SopSettings, frame: pl.DataFrame,
                              production: pl.DataFrame) -> dg.AssetCheckResult:
    planning = getattr(sop_settings.load(), "planning", None)
    if planning is None:
        return check_result([], "no planning section: no base scenario")
    errors = compare.base_mismatch_errors(frame, production, planning.strategy)
    return check_result(errors, f"the base scenario equals the {planning.strategy} production plan",
                        rows_checked=dg.MetadataValue.int(production.height))
