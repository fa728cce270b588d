"""Blocking checks on the planning stage: stocks balance, limits hold, the chosen plan is solved, money adds up."""

import dagster as dg
import polars as pl

from sop_pipeline.config.schema import SUPPLY_SKIPPED, Settings
from sop_pipeline.defs.metadata import check_result
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import SopSettings
from sop_pipeline.defs.supply.assets import (
    INVENTORY_PLAN,
    OPERATING_PLAN,
    PLANNING_INS,
    PRODUCTION_PLAN,
    STRATEGY_COMPARISON,
    planning_inputs,
)
from sop_pipeline.supply.invariants import (
    inventory_plan_errors,
    limit_errors,
    objective_errors,
    operating_money_errors,
    production_balance_errors,
)
from sop_pipeline.supply.strategies import SOLVED  # statuses with a plan
from sop_pipeline.supply.tables import ALL_FAMILIES

PRODUCTION_PLAN_BALANCES = "production_plan_balances"
PRODUCTION_PLAN_WITHIN_LIMITS = "production_plan_within_limits"
CHOSEN_STRATEGY_OPTIMAL = "chosen_strategy_optimal"
INVENTORY_PLAN_BALANCES = "inventory_plan_balances"
OPERATING_PLAN_MATCHES_COST = "operating_plan_matches_production_cost"
CHOSEN_PLAN_INS = {"production_plan": dg.AssetIn(PRODUCTION_PLAN)}


def _skipped(settings: Settings) -> dg.AssetCheckResult | None:
    """Nothing to check where the settings have no planning section (the supply tables are empty)."""
    if settings.plans_supply:
        return None
    return dg.AssetCheckResult(passed=True, description=f"supply planning skipped: {SUPPLY_SKIPPED}")


@dg.asset_check(asset=PRODUCTION_PLAN, name=PRODUCTION_PLAN_BALANCES, blocking=True, partitions_def=plan_cycles,
                additional_ins=PLANNING_INS,
                description="Every family, strategy and month: ending inventory - backlog = previous + units made "
                            "(regular + overtime + subcontracted) - demand, starting from the initial inventory.")
def production_plan_balances(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings, frame: pl.DataFrame,
                             demand_plan: pl.DataFrame, forecast: pl.DataFrame,
                             accuracy: pl.DataFrame) -> dg.AssetCheckResult:
    settings = sop_settings.load()
    if skipped := _skipped(settings):
        return skipped
    _stocks, problems = planning_inputs(settings, demand_plan, forecast, accuracy)
    errors = production_balance_errors(frame, problems)
    return check_result(errors, f"{frame.height:,} family-strategy-months balance",
                        rows_checked=dg.MetadataValue.int(frame.height))


@dg.asset_check(asset=PRODUCTION_PLAN, name=PRODUCTION_PLAN_WITHIN_LIMITS, blocking=True, partitions_def=plan_cycles,
                additional_ins=PLANNING_INS,
                description="Overtime <= max_overtime_hours_per_worker x workforce, workforce within min/max, "
                            "subcontracting <= max_subcontract_units, nothing negative, and the plant hours of "
                            "each strategy's plans within planning.shared_capacity.")
def production_plan_within_limits(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings,
                                  frame: pl.DataFrame, demand_plan: pl.DataFrame, forecast: pl.DataFrame,
                                  accuracy: pl.DataFrame) -> dg.AssetCheckResult:
    settings = sop_settings.load()
    if skipped := _skipped(settings):
        return skipped
    _stocks, problems = planning_inputs(settings, demand_plan, forecast, accuracy)
    errors = limit_errors(frame, problems, settings.planning.shared_capacity)
    return check_result(errors, "overtime, workforce, subcontracting and shared capacity within their limits",
                        rows_checked=dg.MetadataValue.int(frame.height))


@dg.asset_check(asset=STRATEGY_COMPARISON, name=CHOSEN_STRATEGY_OPTIMAL, blocking=True, partitions_def=plan_cycles,
                description="The chosen strategy has a plan for every family and the solver reported it optimal.")
def chosen_strategy_optimal(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings,
                            comparison: pl.DataFrame) -> dg.AssetCheckResult:
    settings = sop_settings.load()
    if skipped := _skipped(settings):
        return skipped
    strategy = settings.planning.strategy
    chosen = comparison.filter(pl.col("chosen"))
    unsolved = chosen.filter(~pl.col("solver_status").is_in(SOLVED) | pl.col("solver_status").is_null())
    inaccurate = chosen.filter(pl.col("solver_status").is_in(["optimal_inaccurate", "time_limit"]))
    errors = [f"{r['family']}: {r['solver_status']}" for r in unsolved.iter_rows(named=True)]
    if "solver_objective" in comparison.columns:
        errors += objective_errors(comparison)
    if chosen.is_empty():
        errors.append(f"no {strategy} plan was recorded")
    statuses = sorted(set(chosen["solver_status"].drop_nulls().to_list()))
    return dg.AssetCheckResult(
        # optimal_inaccurate is a usable plan, flagged for a look rather than stopping the cycle
        passed=not errors and inaccurate.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        description="; ".join(errors) or (f"{strategy}: {', '.join(statuses)} for {chosen.height} families"),
        metadata={"solver_status": ", ".join(statuses), "families": dg.MetadataValue.int(chosen.height)},
    )


@dg.asset_check(asset=INVENTORY_PLAN, name=INVENTORY_PLAN_BALANCES, blocking=True, partitions_def=plan_cycles,
                additional_ins=CHOSEN_PLAN_INS,
                description="Per SKU and month: beginning - beginning backlog + production - demand = ending - "
                            "backlog, beginning = previous ending; SKU production, demand and net stock add up "
                            "to the chosen family plan.")
def inventory_plan_balances(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings,
                            frame: pl.DataFrame, production_plan: pl.DataFrame) -> dg.AssetCheckResult:
    settings = sop_settings.load()
    if skipped := _skipped(settings):
        return skipped
    strategy = settings.planning.strategy
    errors = inventory_plan_errors(frame, production_plan, strategy)
    return check_result(errors, f"{frame.height:,} SKU-months balance and add up to the family plans",
                        rows_checked=dg.MetadataValue.int(frame.height))


@dg.asset_check(asset=OPERATING_PLAN, name=OPERATING_PLAN_MATCHES_COST, blocking=True, partitions_def=plan_cycles,
                additional_ins=CHOSEN_PLAN_INS,
                description="Every cost of the operating plan equals the chosen production plan's, to the cent, per "
                            "family and month and in the all-families total.")
def operating_plan_matches_cost(context: dg.AssetCheckExecutionContext, sop_settings: SopSettings,
                                frame: pl.DataFrame, production_plan: pl.DataFrame) -> dg.AssetCheckResult:
    settings = sop_settings.load()
    if skipped := _skipped(settings):
        return skipped
    strategy = settings.planning.strategy
    errors = operating_money_errors(frame, production_plan, strategy)
    total = float(frame.filter(pl.col("family") == ALL_FAMILIES)["total_cost"].sum())
    return check_result(errors, f"total cost {total:,.2f} equals the {strategy} production plan's",
                        total_cost=dg.MetadataValue.float(total))
