"""Scenarios stage: the base plan and every `scenarios:` entry re-planned from the same demand plan, in money."""

import dagster as dg
import polars as pl

from sop_pipeline.defs.metadata import markdown_table
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import SopSettings, cycle_of
from sop_pipeline.defs.supply.assets import GROUP
from sop_pipeline.scenarios import compare
from sop_pipeline.scenarios import plan as scenario_plans
from sop_pipeline.supply.tables import ALL_FAMILIES

SCENARIO_PLAN = dg.AssetKey(["sop", "scenario_plan"])
SCENARIO_COMPARISON = dg.AssetKey(["sop", "scenario_comparison"])
# The cycle's tables every scenario is re-planned from, one input each (named after the table).
_INS = {table: dg.AssetIn(dg.AssetKey(["sop", table])) for table in scenario_plans.INPUT_TABLES}



@dg.multi_asset(
    outs={
        "scenario_plan": dg.AssetOut(
            key=SCENARIO_PLAN, group_name=GROUP, kinds={"cvxpy", "duckdb"},
            description="Every scenario's plan per family and month (the published plan is scenario 'base'): "
                        "planned units and revenue, production, inventory, backlog, workforce, hours, cost and "
                        "gross margin."),
        "scenario_comparison": dg.AssetOut(
            key=SCENARIO_COMPARISON, group_name=GROUP, kinds={"duckdb"},
            description="Horizon KPIs per scenario and family (and ALL FAMILIES), each with its change against base; "
                        "an impossible scenario is listed with the planner's reason."),
    },
    ins=_INS,
    partitions_def=plan_cycles,
)
def scenarios(context: dg.AssetExecutionContext, sop_settings: SopSettings, demand_plan: pl.DataFrame,
              forecast: pl.DataFrame, forecast_accuracy: pl.DataFrame, production_plan: pl.DataFrame):
    settings = sop_settings.load()
    if not settings.plans_supply:  # a cycle without a planning section publishes no supply plan, hence no scenarios
        context.log.info("No planning section: scenarios skipped")
        outcomes = []
    else:
        context.log.info(f"Planning the base plan and {len(settings.scenarios)} scenario(s) of {cycle_of(context):%Y-%m}")
        outcomes = scenario_plans.plan_cycle_scenarios(
            settings.scenarios, demand_plan, forecast, forecast_accuracy, production_plan, settings.planning,
            settings.forecast.interval_width, log=context.log.info)
    plan_frame = scenario_plans.plan_frame(outcomes)
    comparison = compare.comparison_frame(outcomes)
    totals = (comparison.filter(pl.col("family") == ALL_FAMILIES)
              .select("scenario", "status", "total_cost", "total_cost_change", "gross_margin", "gross_margin_change",
                      "units_short", "fill_rate"))
    yield dg.MaterializeResult(asset_key=SCENARIO_PLAN, value=plan_frame,
                               metadata={"scenarios": dg.MetadataValue.int(len(outcomes))})
    yield dg.MaterializeResult(asset_key=SCENARIO_COMPARISON, value=comparison, metadata={
        "all_families": dg.MetadataValue.md(markdown_table(totals, rows=50, digits=2)),
        "infeasible": dg.MetadataValue.int(sum(o.plan is None for o in outcomes)),
    })
