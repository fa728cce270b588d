"""Adopting a scenario: the tables of a cycle's plan as the scenario plans it (functional core, no database).

The scenario is planned again exactly as a run plans the cycle (every strategy, the chosen one from the
scenario's settings), from the published version's demand plan with the scenario's demand changes, so
every table of the new version (demand, production, strategy comparison, inventory, operating and
capacity plans, budget gap) is the scenario's; the exceptions are found by the caller from them, as a run
finds them. The supply invariants are checked on the result before anything is published.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sop_pipeline.alignment import budget as budget_core
from sop_pipeline.alignment.capacity import capacity_plan
from sop_pipeline.common.errors import PlanningError, SopError
from sop_pipeline.config.schema import Scenario, Settings
from sop_pipeline.scenarios.plan import apply_demand_changes, scenario_planning
from sop_pipeline.supply.invariants import inventory_plan_errors, limit_errors, operating_money_errors, production_balance_errors
from sop_pipeline.supply.operating_plan import operating_plan
from sop_pipeline.supply.problems import planning_inputs
from sop_pipeline.supply.sku_split import inventory_plan
from sop_pipeline.supply.solve import solve_strategies
from sop_pipeline.supply.tables import ALL_FAMILIES


@dataclass
class AdoptedTables:
    scenario: Scenario
    settings: Settings          # the cycle's settings with the scenario's planning
    tables: dict[str, pl.DataFrame]
    problems: dict


def find_scenario(settings: Settings, name: str, comparison: pl.DataFrame, cycle_text: str) -> Scenario:
    """The scenario `name` of the cycle's settings; an error naming the cycle's scenarios otherwise, and
    for one the run found infeasible."""
    published = sorted(set(comparison["scenario"].to_list())) if comparison.height else []
    by_name = {s.name: s for s in settings.scenarios}
    if name not in by_name:
        saved = name in published
        raise SopError(
            f"Plan cycle {cycle_text} has no scenario {name!r} to adopt" + (
                " defined in its settings (it was saved with what-if, which keeps its result, not its definition)"
                if saved else ""),
            where="--scenario",
            fix=(f"Choose one of: {', '.join(sorted(by_name))}" if by_name else
                 "Define the scenario under scenarios: in sop.yaml and run the cycle") +
                (" (or add it to scenarios: in sop.yaml and run the cycle)" if saved else ""))
    status = comparison.filter((pl.col("scenario") == name) & (pl.col("family") == ALL_FAMILIES))
    if status.height and status["status"][0] != "planned":
        raise SopError(f"Scenario {name!r} of plan cycle {cycle_text} has no feasible plan, so it cannot be adopted",
                       where="--scenario", fix=f"Its status: {status['status'][0]}. Change the scenario in sop.yaml "
                                               "and run the cycle, or adopt another")
    return by_name[name]


def adopt_tables(settings: Settings, scenario: Scenario, frames: dict[str, pl.DataFrame], cycle_text: str) -> AdoptedTables:
    """The scenario's demand plan, production plan (every strategy), strategy comparison, inventory,
    operating and capacity plans and budget gap, from the published version's `frames` (demand_plan,
    forecast, forecast_accuracy, budget_gap). Raises SopError (exit 2) when it has no plan or its tables
    do not add up."""
    planning = scenario_planning(settings.planning, scenario)
    adopted = settings.model_copy(update={"planning": planning})
    demand = apply_demand_changes(frames["demand_plan"], scenario.demand)
    try:
        stocks, problems = planning_inputs(demand, frames["forecast"], frames["forecast_accuracy"],
                                                       planning, settings.forecast.interval_width)
        plans = solve_strategies(problems, planning)
    except PlanningError as exc:
        raise SopError(f"Scenario {scenario.name!r} of plan cycle {cycle_text} has no feasible plan: {exc.what}",
                       where=f"--scenario; {exc.where}" if exc.where else "--scenario",
                       fix="Nothing was published. Change the scenario in sop.yaml, or adopt another") from None
    production = plans.production_plan
    inventory = inventory_plan(demand, production, problems, stocks, planning.strategy)
    operating = operating_plan(production, demand, planning.strategy)
    tables = {
        "demand_plan": demand,
        "production_plan": production,
        "strategy_comparison": plans.strategy_comparison,
        "inventory_plan": inventory,
        "operating_plan": operating,
        "capacity_plan": capacity_plan(production, problems, planning, planning.strategy),
        "budget_gap": scenario_budget_gap(frames["budget_gap"], demand),
    }
    errors = supply_errors(tables, problems, planning)
    if errors:
        raise SopError(f"The tables of scenario {scenario.name!r} do not add up, so it was not adopted",
                       where="supply checks", problems=errors[:10],
                       fix="Nothing was published; report this with the scenario's settings")
    return AdoptedTables(scenario, adopted, tables, problems)


def supply_errors(tables: dict[str, pl.DataFrame], problems: dict, planning) -> list[str]:
    """The supply invariant checks a run's plan passes (defs/supply/checks.py), on a set of tables."""
    production = tables["production_plan"]
    return [*production_balance_errors(production, problems),
            *limit_errors(production, problems, planning.shared_capacity),
            *inventory_plan_errors(tables["inventory_plan"], production, planning.strategy),
            *operating_money_errors(tables["operating_plan"], production, planning.strategy)]


def scenario_budget_gap(published_gap: pl.DataFrame, demand_plan: pl.DataFrame) -> pl.DataFrame:
    """The gap of the scenario's demand plan to the same budget (taken back from the published gap: the
    budget file need not be at hand in the meeting)."""
    if published_gap.height == 0:
        return published_gap
    budget = (published_gap.filter(pl.col("family") != ALL_FAMILIES)
              .select(pl.lit("published budget_gap").alias("source"), pl.lit(None, pl.Int64).alias("line"),
                      "family", "month", pl.col("budget_units").alias("units"),
                      pl.col("budget_revenue").alias("revenue"))
              .cast({k: v for k, v in budget_core.BUDGET_SCHEMA.items()}))
    return budget_core.budget_gap(budget, demand_plan)
