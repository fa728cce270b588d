"""Alignment stage: the capacity plan per work centre, the gap to budget, and the exceptions for the meeting."""

import dagster as dg
import polars as pl

from sop_pipeline.alignment import budget as budget_core
from sop_pipeline.alignment import exceptions as exceptions_core
from sop_pipeline.alignment.capacity import capacity_plan as build_capacity_plan
from sop_pipeline.alignment.capacity import peak_utilization
from sop_pipeline.defs.metadata import markdown_table
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.defs.supply.assets import (
    DEMAND_PLAN,
    INVENTORY_PLAN,
    PLANNING_INS,
    PRODUCTION_PLAN,
    STRATEGY_COMPARISON,
    planning_inputs,
    skipped,
)
from sop_pipeline.store import db
from sop_pipeline.supply.tables import ALL_FAMILIES
from sop_pipeline.track_record import backfill

GROUP = "alignment"
CAPACITY_PLAN = dg.AssetKey(["sop", "capacity_plan"])
BUDGET_GAP = dg.AssetKey(["sop", "budget_gap"])
EXCEPTIONS = dg.AssetKey(["sop", "exceptions"])
BIAS_MONTHS_BACK = 6  # the published cycles whose forecasts count as "recent"


@dg.asset(
    key=CAPACITY_PLAN,
    ins={**PLANNING_INS, "production_plan": dg.AssetIn(PRODUCTION_PLAN)},
    deps=[STRATEGY_COMPARISON],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="Hours available, hours the chosen plan uses and hours the unconstrained demand plan would need "
                "(the bottom-up resource requirement), and utilization, per work centre (planning.resources, and "
                "'plant labour'), family (and ALL FAMILIES) and month.",
)
def capacity_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings, demand_plan: pl.DataFrame,
                  forecast: pl.DataFrame, accuracy: pl.DataFrame, production_plan: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    if not settings.plans_supply:
        return skipped(context, (CAPACITY_PLAN,))[0]
    _stocks, problems = planning_inputs(settings, demand_plan, forecast, accuracy)
    frame = build_capacity_plan(production_plan, problems, settings.planning, settings.planning.strategy)
    totals = frame.filter(pl.col("family") == ALL_FAMILIES)
    peaks = peak_utilization(totals)
    for row in peaks.iter_rows(named=True):
        if row["utilization"] is not None:
            context.log.info(f"{row['resource']}: peak {row['utilization']:.0%} of {row['hours_available']:,.0f} h "
                             f"in {row['month']:%Y-%m}")
    return dg.MaterializeResult(value=frame, metadata={
        "work_centres": dg.MetadataValue.int(len(settings.planning.resources)),
        "peak_utilization": dg.MetadataValue.md(markdown_table(peaks, rows=50)),
        "all_families": dg.MetadataValue.md(markdown_table(totals.drop("family", "strategy"), rows=200, digits=2)),
    })


@dg.asset(
    key=BUDGET_GAP,
    ins={"demand_plan": dg.AssetIn(DEMAND_PLAN)},
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="The demand plan against the budget (the annual operating plan, `budget:` in sop.yaml) per "
                "family (and ALL FAMILIES) and budget month: units and revenue, gap (plan - budget), gap % "
                "and the cumulative gap. Empty when no budget is set.",
)
def budget_gap(context: dg.AssetExecutionContext, sop_settings: SopSettings,
               demand_plan: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    path = settings.resolve(settings.budget)
    budget = budget_core.load_budget(path) if path is not None else pl.DataFrame(schema=budget_core.BUDGET_SCHEMA)
    if path is None:
        context.log.info("No budget in the settings (budget:): no gap to budget")
    elif backfill.is_backfill(context.run.tags):
        listed = budget.height
        budget = backfill.within_horizon(budget, cycle_of(context), settings.forecast.horizon_months)
        context.log.info(f"Backfilled cycle: {listed - budget.height} of {listed} budget row(s) outside the "
                         "horizon left out")
    in_horizon = budget_core.budget_in_horizon(budget, demand_plan)
    if (past := budget.height - in_horizon.height) > 0:
        context.log.info(f"{past} budget row(s) are for months before the cycle {cycle_of(context):%Y-%m} (history): "
                         "not compared")
    frame = budget_core.budget_gap(in_horizon, demand_plan)
    total = frame.filter(pl.col("family") == ALL_FAMILIES)
    revenue_gap = float(total["revenue_gap"].sum()) if total.height else 0.0
    units_gap = float(total["units_gap"].sum()) if total.height else 0.0
    if total.height:
        context.log.info(f"Gap to budget over {total.height} budget months: {units_gap:+,.0f} units, "
                         f"{revenue_gap:+,.0f} revenue")
    return dg.MaterializeResult(value=frame, metadata={
        "budget_rows": dg.MetadataValue.int(budget.height),
        "budget_rows_before_cycle": dg.MetadataValue.int(past),
        "revenue_gap": dg.MetadataValue.float(revenue_gap),
        "units_gap": dg.MetadataValue.float(units_gap),
        "by_family": dg.MetadataValue.md(markdown_table(budget_core.gap_by_family(frame), rows=200, digits=0)),
    })


@dg.asset(
    key=EXCEPTIONS,
    ins={**PLANNING_INS, "production_plan": dg.AssetIn(PRODUCTION_PLAN), "inventory": dg.AssetIn(INVENTORY_PLAN),
         "capacity": dg.AssetIn(CAPACITY_PLAN), "gap": dg.AssetIn(BUDGET_GAP)},
    deps=[STRATEGY_COMPARISON],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="What needs a decision this cycle: work centres above their utilization threshold, families and "
                "SKUs below safety stock, units short, plan changes against the previous cycle, biased forecasts "
                "and families off budget; each with severity, money at stake and a sentence for the meeting "
                "(thresholds: alerts: in sop.yaml).",
)
def exceptions(context: dg.AssetExecutionContext, sop_settings: SopSettings, database: PlanDatabase,
               demand_plan: pl.DataFrame, forecast: pl.DataFrame, accuracy: pl.DataFrame, production_plan: pl.DataFrame,
               inventory: pl.DataFrame, capacity: pl.DataFrame, gap: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    # Without a planning section only the demand side can raise exceptions (forecast bias, budget gap,
    # plan changes): the supply tables of the cycle are empty.
    problems = planning_inputs(settings, demand_plan, forecast, accuracy)[1] if settings.plans_supply else {}
    with database.connect() as conn:  # this cycle against earlier published ones
        changes = db.query_pl(conn, db.sql_text("exceptions_plan_change"), {"plan_cycle": cycle})
        published_bias = db.query_pl(conn, db.sql_text("exceptions_forecast_bias"),
                                     {"plan_cycle": cycle, "months_back": BIAS_MONTHS_BACK})
        backtest_bias = db.query_pl(conn, db.sql_text("exceptions_backtest_bias"), {"plan_cycle": cycle})
    frame = exceptions_core.find_exceptions(
        settings.alerts, demand_plan=demand_plan,
        production=production_plan.filter(pl.col("strategy") == settings.planning.strategy),
        inventory=inventory, capacity=capacity, budget_gap=gap, plan_changes=changes,
        forecast_bias=exceptions_core.recent_bias(published_bias, backtest_bias),
        overtime_rates={f: p.costs.overtime_wage_per_hour for f, p in problems.items()},
        unit_costs={f: exceptions_core.unit_cost(p.costs.material_per_unit, p.production.labor_hours_per_unit,
                                                 p.costs.regular_wage_per_hour) for f, p in problems.items()})
    counts = frame.group_by("severity", "kind").agg(pl.len().alias("exceptions"),
                                                    pl.col("money_at_stake").sum()).sort("severity", "kind")
    high = frame.filter(pl.col("severity") == "high")
    context.log.info(f"Exceptions: {frame.height} ({high.height} high severity), "
                     f"{frame['money_at_stake'].sum():,.0f} in money at stake")
    return dg.MaterializeResult(value=frame, metadata={
        "high_severity": dg.MetadataValue.int(high.height),
        "money_at_stake": dg.MetadataValue.float(float(frame["money_at_stake"].sum())),
        "by_kind": dg.MetadataValue.md(markdown_table(counts, rows=50, digits=0)),
        "decisions_needed": dg.MetadataValue.md(markdown_table(
            frame.select("severity", "kind", "money_at_stake", "message"), rows=15, digits=0)),
    })
