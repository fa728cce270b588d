"""Scenarios stage: the base plan and every `scenarios:` entry re-planned from the same demand plan, in money."""

import dagster as dg
import polars as pl

from sop_pipeline.defs.metadata import markdown_table, table_metadata
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.defs.supply.assets import (
    DEMAND_PLAN,
    FORECAST,
    FORECAST_ACCURACY,
    GROUP,
    PRODUCTION_PLAN,
)
from sop_pipeline.scenarios import compare
from sop_pipeline.scenarios import plan as scenario_plans
from sop_pipeline.store import db
from sop_pipeline.supply.plans import ALL_FAMILIES

SCENARIO_PLAN = dg.AssetKey(["sop", "scenario_plan"])
SCENARIO_COMPARISON = dg.AssetKey(["sop", "scenario_comparison"])
_DEPS = [DEMAND_PLAN, PRODUCTION_PLAN, FORECAST, FORECAST_ACCURACY]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(SCENARIO_PLAN, deps=_DEPS, group_name=GROUP, kinds={"cvxpy", "duckdb"},
                     description="Every scenario's plan per family and month (the published plan is scenario "
                                 "'base'): planned units and revenue, production, inventory, backlog, workforce, "
                                 "hours, cost and gross margin."),
        dg.AssetSpec(SCENARIO_COMPARISON, deps=_DEPS, group_name=GROUP, kinds={"duckdb"},
                     description="Horizon KPIs per scenario and family (and ALL FAMILIES), each with its change "
                                 "against base; an impossible scenario is listed with the planner's reason."),
    ],
    partitions_def=plan_cycles,
)
def scenarios(context: dg.AssetExecutionContext, sop_settings: SopSettings, database: PlanDatabase):
    settings = sop_settings.load()
    cycle = cycle_of(context)
    planning = settings.planning
    if not settings.plans_supply:  # a cycle without a planning section publishes no supply plan, hence no scenarios
        context.log.info("No planning section: scenarios skipped")
        outcomes = []
    else:
        with database.connect() as conn:
            inputs = {t: db.read_cycle(conn, t, cycle)
                      for t in ("demand_plan", "forecast", "forecast_accuracy", "production_plan")}
        context.log.info(f"Planning the base plan and {len(settings.scenarios)} scenario(s) of {cycle:%Y-%m}")
        outcomes = scenario_plans.plan_cycle_scenarios(
            settings.scenarios, inputs["demand_plan"], inputs["forecast"], inputs["forecast_accuracy"],
            inputs["production_plan"], planning, settings.forecast.interval_width, log=context.log.info)
    plan_frame = scenario_plans.plan_frame(outcomes)
    comparison = compare.comparison_frame(outcomes)
    with database.connect() as conn:
        db.replace_cycle(conn, "scenario_plan", cycle, plan_frame)
        db.replace_cycle(conn, "scenario_comparison", cycle, comparison)
    totals = (comparison.filter(pl.col("family") == ALL_FAMILIES)
              .select("scenario", "status", "total_cost", "total_cost_change", "gross_margin", "gross_margin_change",
                      "units_short", "fill_rate"))
    yield dg.MaterializeResult(asset_key=SCENARIO_PLAN, metadata=table_metadata(
        plan_frame, "sop.scenario_plan", scenarios=dg.MetadataValue.int(len(outcomes))))
    yield dg.MaterializeResult(asset_key=SCENARIO_COMPARISON, metadata=table_metadata(
        comparison, "sop.scenario_comparison",
        all_families=dg.MetadataValue.md(markdown_table(totals, rows=50, digits=2)),
        infeasible=dg.MetadataValue.int(sum(o.plan is None for o in outcomes)),
    ))
