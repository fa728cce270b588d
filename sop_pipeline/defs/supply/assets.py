"""Planning stage: production plans for every strategy, the strategy comparison, SKU inventory and operating plans."""

import time

import dagster as dg
import polars as pl

from sop_pipeline.config.schema import SUPPLY_SKIPPED, Settings
from sop_pipeline.defs.metadata import markdown_table, table_metadata
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.store import db
from sop_pipeline.supply import plans as supply_plan
from sop_pipeline.supply import resource_requirements

GROUP = "planning"
DEMAND_PLAN = dg.AssetKey(["sop", "demand_plan"])
FORECAST = dg.AssetKey(["sop", "forecast"])
FORECAST_ACCURACY = dg.AssetKey(["sop", "forecast_accuracy"])
PRODUCTION_PLAN = dg.AssetKey(["sop", "production_plan"])
STRATEGY_COMPARISON = dg.AssetKey(["sop", "strategy_comparison"])
INVENTORY_PLAN = dg.AssetKey(["sop", "inventory_plan"])
OPERATING_PLAN = dg.AssetKey(["sop", "operating_plan"])


def skip_supply(context, database: PlanDatabase, cycle, settings: Settings, tables: tuple[str, ...], keys) -> list:
    """Without a planning section the supply tables stay empty for the cycle (the draft rows of an
    earlier run with planning are cleared, so they cannot be published beside this run's demand plan).
    Returns the assets' results, which say why."""
    context.log.warning(f"Supply planning skipped: {SUPPLY_SKIPPED}")
    with database.connect() as conn:
        for table in tables:
            db.replace_cycle(conn, table, cycle, pl.DataFrame())
    return [dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": dg.MetadataValue.int(0),
                                                          "supply_planning": f"skipped: {SUPPLY_SKIPPED}"})
            for key in keys]


def planning_inputs(conn, cycle, settings: Settings):
    """The cycle's demand plan, safety stocks and family problems, from the draft tables."""
    demand_plan = db.read_cycle(conn, "demand_plan", cycle)
    forecast = db.read_cycle(conn, "forecast", cycle)
    accuracy = db.read_cycle(conn, "forecast_accuracy", cycle)
    stocks, problems = supply_plan.planning_inputs(demand_plan, forecast, accuracy, settings.planning,
                                                   settings.forecast.interval_width)
    return demand_plan, stocks, problems


@dg.multi_asset(
    specs=[
        dg.AssetSpec(PRODUCTION_PLAN, deps=[DEMAND_PLAN, FORECAST, FORECAST_ACCURACY], group_name=GROUP,
                     kinds={"cvxpy", "duckdb"},
                     description="Aggregate production plan per family, strategy (level, chase, optimal) and "
                                 "month: workforce, hires, layoffs, regular/overtime/subcontracted units, "
                                 "inventory, backlog, safety stock and every cost."),
        dg.AssetSpec(STRATEGY_COMPARISON, deps=[DEMAND_PLAN, FORECAST, FORECAST_ACCURACY], group_name=GROUP,
                     kinds={"cvxpy", "duckdb"},
                     description="Total cost and its parts per family and strategy, units short, solver status; "
                                 "`chosen` marks planning.strategy. Impossible level/chase plans are listed "
                                 "with solver_status 'infeasible: <reason>'."),
    ],
    partitions_def=plan_cycles,
)
def production_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings, database: PlanDatabase):
    settings = sop_settings.load()
    cycle = cycle_of(context)
    if not settings.plans_supply:
        yield from skip_supply(context, database, cycle, settings, ("production_plan", "strategy_comparison"),
                               (PRODUCTION_PLAN, STRATEGY_COMPARISON))
        return
    with database.connect() as conn:
        _demand_plan, _stocks, problems = planning_inputs(conn, cycle, settings)
    months = len(next(iter(problems.values())).periods)
    context.log.info(f"Planning {len(problems)} families over {months} months from {cycle:%Y-%m} "
                     f"(strategy {settings.planning.strategy}, service level {settings.planning.service_level:.0%}, "
                     f"shared capacity {settings.planning.shared_capacity or 'none'})")
    started = time.perf_counter()
    plans = supply_plan.solve_strategies(problems, settings.planning, log=context.log.info)
    seconds = time.perf_counter() - started
    plan_frame, comparison = plans.production_plan, plans.strategy_comparison
    with database.connect() as conn:
        db.replace_cycle(conn, "production_plan", cycle, plan_frame)
        db.replace_cycle(conn, "strategy_comparison", cycle, comparison)

    solver = next(iter(plans.results["optimal"].values())).solver
    chosen = comparison.filter(pl.col("chosen"))
    costs = supply_plan.cost_comparison(comparison)
    context.log.info(supply_plan.strategy_totals_line(comparison))
    infeasible = comparison.filter(pl.col("solver_status").str.starts_with("infeasible"))
    # Bottom-up resource requirement of the chosen plan: labour hours per family and in total, per month.
    chosen_results = plans.results.get(settings.planning.strategy) or {}
    requirement = pl.from_pandas(resource_requirements(problems, chosen_results)) if chosen_results else None
    hours_by_family = (requirement.filter(pl.col("family") != "ALL").group_by("family")
                       .agg(pl.col("demand_hours", "hours_needed", "regular_hours", "overtime_hours").sum())
                       .sort("family") if requirement is not None else None)
    hours_by_month = (requirement.filter(pl.col("family") == "ALL")
                      .select("period", "demand_hours", "hours_needed", "regular_hours", "overtime_hours")
                      if requirement is not None else None)
    if hours_by_month is not None and hours_by_month.height:
        peak = hours_by_month.sort("hours_needed", descending=True).row(0, named=True)
        capacity = settings.planning.shared_capacity
        context.log.info(f"Labour hours needed, all families: peak {peak['hours_needed']:,.0f} in {peak['period']}"
                         + (f" of {capacity:,.0f} shared" if capacity else ""))
    yield dg.MaterializeResult(
        asset_key=PRODUCTION_PLAN,
        metadata=table_metadata(
            plan_frame, "sop.production_plan",
            families=dg.MetadataValue.int(len(problems)),
            chosen_strategy=settings.planning.strategy,
            solver_status=str(solver.get("status")),
            solve_seconds=dg.MetadataValue.float(float(solver.get("solve_seconds") or 0.0)),
            build_seconds=dg.MetadataValue.float(float(solver.get("build_seconds") or 0.0)),
            planning_seconds=dg.MetadataValue.float(seconds),
            labour_hours_by_family=dg.MetadataValue.md(
                markdown_table(hours_by_family, rows=500, digits=0) if hours_by_family is not None else "n/a"),
            labour_hours_by_month=dg.MetadataValue.md(
                markdown_table(hours_by_month, rows=120, digits=0) if hours_by_month is not None else "n/a"),
        ),
    )
    yield dg.MaterializeResult(
        asset_key=STRATEGY_COMPARISON,
        metadata=table_metadata(
            comparison, "sop.strategy_comparison",
            cost_comparison=dg.MetadataValue.md(markdown_table(costs, rows=200, digits=0)),
            chosen_total_cost=dg.MetadataValue.float(float(chosen["total_cost"].sum())),
            infeasible_strategies=dg.MetadataValue.md(
                markdown_table(infeasible.select("family", "strategy", "solver_status"), rows=50)
                if infeasible.height else "none"),
        ),
    )


@dg.asset(
    key=INVENTORY_PLAN,
    deps=[PRODUCTION_PLAN, DEMAND_PLAN],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb"},
    description="The chosen family plans split to SKUs: beginning and ending inventory, production, demand, "
                "backlog, safety stock and months of supply per SKU and month.",
)
def inventory_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings,
                   database: PlanDatabase) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    if not settings.plans_supply:
        return skip_supply(context, database, cycle, settings, ("inventory_plan",), (INVENTORY_PLAN,))[0]
    with database.connect() as conn:
        demand_plan, stocks, problems = planning_inputs(conn, cycle, settings)
        plan_frame = db.read_cycle(conn, "production_plan", cycle)
        frame = supply_plan.inventory_plan(demand_plan, plan_frame, problems, stocks, settings.planning.strategy)
        db.replace_cycle(conn, "inventory_plan", cycle, frame)
    below = frame.filter(pl.col("ending_inventory") < pl.col("safety_stock") - 1e-6)
    context.log.info(f"Inventory plan: {frame['sku'].n_unique():,} SKUs, {below.height:,} SKU-months below safety stock")
    return dg.MaterializeResult(metadata=table_metadata(
        frame, "sop.inventory_plan",
        skus=dg.MetadataValue.int(frame["sku"].n_unique()),
        sku_months_below_safety_stock=dg.MetadataValue.int(below.height),
        sku_months_backlogged=dg.MetadataValue.int(frame.filter(pl.col("backlog") > 1e-6).height),
    ))


@dg.asset(
    key=OPERATING_PLAN,
    deps=[PRODUCTION_PLAN, DEMAND_PLAN],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb"},
    description="People (headcount, hires, layoffs), time (regular and overtime hours, subcontracted units) and "
                "money (labour, material, subcontract, holding, backlog cost, revenue, gross margin) per family "
                "and month, with an 'ALL FAMILIES' total.",
)
def operating_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings,
                   database: PlanDatabase) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    if not settings.plans_supply:
        return skip_supply(context, database, cycle, settings, ("operating_plan",), (OPERATING_PLAN,))[0]
    with database.connect() as conn:
        demand_plan = db.read_cycle(conn, "demand_plan", cycle)
        plan_frame = db.read_cycle(conn, "production_plan", cycle)
        frame = supply_plan.operating_plan(plan_frame, demand_plan, settings.planning.strategy)
        db.replace_cycle(conn, "operating_plan", cycle, frame)
    total = frame.filter(pl.col("family") == supply_plan.ALL_FAMILIES)
    summary = {k: float(total[k].sum()) for k in ("planned_revenue", "total_cost", "gross_margin", "labor_cost")}
    context.log.info("Operating plan, horizon totals: " + ", ".join(f"{k} {v:,.0f}" for k, v in summary.items()))
    return dg.MaterializeResult(metadata=table_metadata(
        frame, "sop.operating_plan",
        all_families=dg.MetadataValue.md(markdown_table(
            total.select("month", "headcount", "regular_hours", "overtime_hours", "labor_cost", "total_cost",
                         "planned_revenue", "gross_margin"), rows=120, digits=0)),
        **{f"horizon_{k}": dg.MetadataValue.float(v) for k, v in summary.items()},
    ))
