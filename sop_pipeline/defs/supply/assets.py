"""Planning stage: production plans for every strategy, the strategy comparison, SKU inventory and operating plans."""

import time

import dagster as dg
import polars as pl

from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.schema import SUPPLY_SKIPPED, Settings
from sop_pipeline.defs.metadata import markdown_table
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import SopSettings, cycle_of
from sop_pipeline.supply import operating_plan as operating
from sop_pipeline.supply import problems as supply_problems
from sop_pipeline.supply import sku_split
from sop_pipeline.supply import solve as supply_solve
from sop_pipeline.supply import tables as supply_tables
from sop_pipeline.supply.labour_hours import labour_hour_totals, peak_month

GROUP = "planning"
DEMAND_PLAN = dg.AssetKey(["sop", "demand_plan"])
FORECAST = dg.AssetKey(["sop", "forecast"])
FORECAST_ACCURACY = dg.AssetKey(["sop", "forecast_accuracy"])
PRODUCTION_PLAN = dg.AssetKey(["sop", "production_plan"])
STRATEGY_COMPARISON = dg.AssetKey(["sop", "strategy_comparison"])
INVENTORY_PLAN = dg.AssetKey(["sop", "inventory_plan"])
OPERATING_PLAN = dg.AssetKey(["sop", "operating_plan"])


# The inputs every supply plan is built from: the cycle's demand plan, and the forecast and its backtest
# accuracy (the safety stocks).
PLANNING_INS = {"demand_plan": dg.AssetIn(DEMAND_PLAN), "forecast": dg.AssetIn(FORECAST),
                "accuracy": dg.AssetIn(FORECAST_ACCURACY)}


def skipped(context, keys) -> list[dg.MaterializeResult]:
    """Without a planning section the supply tables stay empty for the cycle (the draft rows of an
    earlier run with planning are cleared by writing no rows, so they cannot be published beside this
    run's demand plan). The assets' results say why."""
    context.log.warning(f"Supply planning skipped: {SUPPLY_SKIPPED}")
    return [dg.MaterializeResult(asset_key=key, value=pl.DataFrame(),
                                 metadata={"supply_planning": f"skipped: {SUPPLY_SKIPPED}"})
            for key in keys]


def planning_inputs(settings: Settings, demand_plan: pl.DataFrame, forecast: pl.DataFrame, accuracy: pl.DataFrame):
    """The cycle's safety stocks and family problems (`supply.problems.planning_inputs`) with the run's settings."""
    return supply_problems.planning_inputs(demand_plan, forecast, accuracy, settings.planning,
                                       settings.forecast.interval_width)


@dg.multi_asset(
    outs={
        "production_plan": dg.AssetOut(
            key=PRODUCTION_PLAN, group_name=GROUP, kinds={"cvxpy", "duckdb"},
            description="Aggregate production plan per family, strategy (level, chase, optimal) and month: workforce, "
                        "hires, layoffs, regular/overtime/subcontracted units, inventory, backlog, safety stock and "
                        "every cost."),
        "strategy_comparison": dg.AssetOut(
            key=STRATEGY_COMPARISON, group_name=GROUP, kinds={"cvxpy", "duckdb"},
            description="Total cost and its parts per family and strategy, units short, solver status; `chosen` marks "
                        "planning.strategy. Impossible level/chase plans are listed with solver_status "
                        "'infeasible: <reason>'."),
    },
    ins=PLANNING_INS,
    partitions_def=plan_cycles,
)
def production_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings, demand_plan: pl.DataFrame,
                    forecast: pl.DataFrame, accuracy: pl.DataFrame):
    settings = sop_settings.load()
    if not settings.plans_supply:
        yield from skipped(context, (PRODUCTION_PLAN, STRATEGY_COMPARISON))
        return
    _stocks, problems = planning_inputs(settings, demand_plan, forecast, accuracy)
    planning = settings.planning
    months = len(next(iter(problems.values())).periods)
    context.log.info(f"Planning {len(problems)} families over {months} months from {cycle_of(context):%Y-%m} "
                     f"(strategy {planning.strategy}, service level {planning.service_level:.0%}, "
                     f"shared capacity {planning.shared_capacity or 'none'})")
    started = time.perf_counter()
    plans = supply_solve.solve_strategies(problems, planning, log=context.log.info)
    seconds = time.perf_counter() - started
    plan_frame, comparison = plans.production_plan, plans.strategy_comparison

    solver = next(iter(plans.results["optimal"].values())).solver
    context.log.info(supply_tables.strategy_totals_line(comparison))
    infeasible = comparison.filter(pl.col("solver_status").str.starts_with("infeasible"))
    hours = labour_hour_totals(problems, plans.results.get(planning.strategy))
    if hours is not None and (peak := peak_month(hours[1])) is not None:
        context.log.info(f"Labour hours needed, all families: peak {peak['hours_needed']:,.0f} in {peak['period']}"
                         + (f" of {planning.shared_capacity:,.0f} shared" if planning.shared_capacity else ""))
    yield dg.MaterializeResult(asset_key=PRODUCTION_PLAN, value=plan_frame, metadata={
        "families": dg.MetadataValue.int(len(problems)),
        "chosen_strategy": planning.strategy,
        "solver_status": str(solver.get("status")),
        "solve_seconds": dg.MetadataValue.float(float(solver.get("solve_seconds") or 0.0)),
        "build_seconds": dg.MetadataValue.float(float(solver.get("build_seconds") or 0.0)),
        "planning_seconds": dg.MetadataValue.float(seconds),
        "labour_hours_by_family": dg.MetadataValue.md(
            markdown_table(hours[0], rows=500, digits=0) if hours is not None else "n/a"),
        "labour_hours_by_month": dg.MetadataValue.md(
            markdown_table(hours[1], rows=120, digits=0) if hours is not None else "n/a"),
    })
    yield dg.MaterializeResult(asset_key=STRATEGY_COMPARISON, value=comparison, metadata={
        "cost_comparison": dg.MetadataValue.md(
            markdown_table(supply_tables.cost_comparison(comparison), rows=200, digits=0)),
        "chosen_total_cost": dg.MetadataValue.float(float(comparison.filter(pl.col("chosen"))["total_cost"].sum())),
        "infeasible_strategies": dg.MetadataValue.md(
            markdown_table(infeasible.select("family", "strategy", "solver_status"), rows=50)
            if infeasible.height else "none"),
    })


@dg.asset(
    key=INVENTORY_PLAN,
    ins={**PLANNING_INS, "production_plan": dg.AssetIn(PRODUCTION_PLAN)},
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb"},
    description="The chosen family plans split to SKUs: beginning and ending inventory, production, demand, "
                "backlog, safety stock and months of supply per SKU and month.",
)
def inventory_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings, demand_plan: pl.DataFrame,
                   forecast: pl.DataFrame, accuracy: pl.DataFrame,
                   production_plan: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    if not settings.plans_supply:
        return skipped(context, (INVENTORY_PLAN,))[0]
    stocks, problems = planning_inputs(settings, demand_plan, forecast, accuracy)
    frame = sku_split.inventory_plan(demand_plan, production_plan, problems, stocks, settings.planning.strategy)
    below = frame.filter(pl.col("ending_inventory") < pl.col("safety_stock") - TOLERANCE)
    context.log.info(f"Inventory plan: {frame['sku'].n_unique():,} SKUs, {below.height:,} SKU-months below safety stock")
    return dg.MaterializeResult(value=frame, metadata={
        "skus": dg.MetadataValue.int(frame["sku"].n_unique()),
        "sku_months_below_safety_stock": dg.MetadataValue.int(below.height),
        "sku_months_backlogged": dg.MetadataValue.int(frame.filter(pl.col("backlog") > TOLERANCE).height),
    })


@dg.asset(
    key=OPERATING_PLAN,
    ins={"production_plan": dg.AssetIn(PRODUCTION_PLAN), "demand_plan": dg.AssetIn(DEMAND_PLAN)},
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb"},
    description="People (headcount, hires, layoffs), time (regular and overtime hours, subcontracted units) and "
                "money (labour, material, subcontract, holding, backlog cost, revenue, gross margin) per family "
                "and month, with an 'ALL FAMILIES' total.",
)
def operating_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings, production_plan: pl.DataFrame,
                   demand_plan: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    if not settings.plans_supply:
        return skipped(context, (OPERATING_PLAN,))[0]
    frame = operating.operating_plan(production_plan, demand_plan, settings.planning.strategy)
    total = frame.filter(pl.col("family") == supply_tables.ALL_FAMILIES)
    summary = {k: float(total[k].sum()) for k in ("planned_revenue", "total_cost", "gross_margin", "labor_cost")
               if total[k].count() > 0}  # revenue and margin are null without revenue
    context.log.info("Operating plan, horizon totals: " + ", ".join(f"{k} {v:,.0f}" for k, v in summary.items())
                     + ("" if "gross_margin" in summary else "; no gross margin: no revenue in the sales history"))
    return dg.MaterializeResult(value=frame, metadata={
        "all_families": dg.MetadataValue.md(markdown_table(
            total.select("month", "headcount", "regular_hours", "overtime_hours", "labor_cost", "total_cost",
                         "planned_revenue", "gross_margin"), rows=120, digits=0)),
        **{f"horizon_{k}": dg.MetadataValue.float(v) for k, v in summary.items()},
    })
