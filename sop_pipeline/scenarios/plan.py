"""Scenarios planned from a cycle's demand plan: demand changes, planning overrides, a re-plan of supply.

A scenario starts from the same demand plan and forecast as the published plan (no re-forecast):
- its demand changes scale planned units and planned revenue together, per family and month
  (several changes on the same month compound);
- its planning overrides are merged onto the `planning` section section by section (`merge_planning`);
- supply is re-planned with the supply core (`supply.problems.planning_inputs`, `supply.strategies.plan_families`)
  for the scenario's strategy only, exactly as the production-plan stage plans the chosen strategy: with the
  shared capacity and the work centres (`planning.resources`) of the scenario's settings.

The base scenario is not re-planned: its rows are the published production plan's chosen rows, so it
equals the plan exactly. A scenario that cannot be planned (PlanningError) is kept as an outcome with
the planner's reason instead of a plan; it never stops the base plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from sop_pipeline.common.errors import PlanningError, SettingsError
from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.preflight import BASE_SCENARIO, scenario_demand_problems, scenario_problems
from sop_pipeline.config.problem import Problem, merge_planning
from sop_pipeline.config.schema import DemandChange, PlanningSettings, Scenario
from sop_pipeline.supply import interruptible
from sop_pipeline.supply.operating_plan import operating_plan
from sop_pipeline.supply.problems import planning_inputs, work_centres
from sop_pipeline.supply.strategies import plan_families
from sop_pipeline.supply.tables import ALL_FAMILIES, production_plan_frame
from sop_pipeline.supply.work_centres import check_resource_families

# The cycle's tables a scenario is re-planned from (the pipeline's draft ones, what-if's published ones).
INPUT_TABLES = ("demand_plan", "forecast", "forecast_accuracy", "production_plan")

SCENARIO_PLAN_COLUMNS = [
    "scenario", "family", "month", "planned_units", "planned_revenue", "beginning_inventory", "beginning_backlog",
    "production", "regular_units", "overtime_units", "subcontract_units", "ending_inventory", "backlog",
    "safety_stock", "workforce", "hires", "layoffs", "regular_hours", "overtime_hours", "hours_used",
    "shared_capacity", "total_cost", "safety_stock_penalty", "gross_margin",
]


# How HiGHS searches a scenario's whole-worker model (a MILP): without the RINS heuristic and without
# presolve. The optimum is the same (to the MIP gap of planning.solver); on twelve demo what-ifs it took
# 44% less solver time in all (measured on the i14 branch). The published plan keeps HiGHS's defaults.
SCENARIO_MIP_OPTIONS = {"mip_heuristic_run_rins": False, "presolve": "off"}


@dataclass
class ScenarioOutcome:
    """One scenario's monthly family plan, or the reason it has none."""

    name: str
    description: str
    plan: pl.DataFrame | None       # SCENARIO_PLAN_COLUMNS; None when the scenario cannot be planned
    reason: str | None = None       # the planner's explanation (PlanningError message) when there is no plan

    @property
    def status(self) -> str:
        return "planned" if self.plan is not None else f"infeasible: {self.reason}"


def check_scenarios(scenarios: list[Scenario], planning: PlanningSettings, demand_plan: pl.DataFrame) -> None:
    """Every scenario problem at once (names, planning keys, families, months), before anything is solved."""
    data = {"planning": planning.model_dump(mode="json"), "scenarios": [s.model_dump(mode="json") for s in scenarios]}
    families = sorted(demand_plan["family"].unique().to_list())
    months = sorted(demand_plan["month"].unique().to_list())
    problems = scenario_problems(data) + scenario_demand_problems(scenarios, families, months)
    if problems:
        raise SettingsError(f"The scenarios have {len(problems)} problem(s)", problems=problems,
                            where="scenarios", fix="Correct these scenarios and run again")


def scenario_planning(planning: PlanningSettings, scenario: Scenario) -> PlanningSettings:
    """The planning settings of a scenario: its overrides merged onto `planning`, section by section."""
    return PlanningSettings.model_validate(merge_planning(planning.model_dump(), scenario.planning))


def apply_demand_changes(demand_plan: pl.DataFrame, changes: list[DemandChange]) -> pl.DataFrame:
    """The demand plan with planned units and planned revenue scaled by each change where it applies."""
    factor = pl.lit(1.0)
    for change in changes:
        applies = pl.lit(True)
        if change.family is not None:
            applies = applies & (pl.col("family") == change.family)
        if (span := change.month_span) is not None:
            applies = applies & pl.col("month").is_between(*span)
        factor = factor * pl.when(applies).then(pl.lit(1 + change.percent / 100)).otherwise(pl.lit(1.0))
    scaled = [c for c in ("planned_units", "planned_revenue") if c in demand_plan.columns]
    return demand_plan.with_columns([pl.col(c) * factor for c in scaled])


def scenario_plan_frame(name: str, chosen_rows: pl.DataFrame, demand_plan: pl.DataFrame,
                        problems: dict[str, Problem], shared_capacity: float | None) -> pl.DataFrame:
    """SCENARIO_PLAN_COLUMNS from one strategy's production-plan rows (PRODUCTION_COLUMNS).

    planned_units is the family's demand in the plan; revenue comes from the demand plan (as in the
    operating plan); beginning stock is the previous month's ending, the initial inventory first;
    hours_used = regular hours worked + overtime hours; gross_margin = planned_revenue - total_cost."""
    revenue = (operating_plan(chosen_rows, demand_plan)
               .filter(pl.col("family") != ALL_FAMILIES).select("family", "month", "planned_revenue"))
    initial = pl.DataFrame({"family": list(problems),
                            "initial_net": [p.inventory.initial - p.inventory.initial_backlog for p in problems.values()]},
                           schema={"family": pl.String, "initial_net": pl.Float64})
    net = pl.col("ending_inventory") - pl.col("backlog")
    return (chosen_rows.sort("family", "month")
            .join(revenue, on=["family", "month"], how="left")
            .join(initial, on="family", how="left")
            .with_columns(previous=pl.coalesce(net.shift(1).over("family"), pl.col("initial_net")))
            .with_columns(
                scenario=pl.lit(name),
                planned_units=pl.col("demand"),
                planned_revenue=pl.col("planned_revenue"),  # null without revenue, as in the operating plan
                beginning_inventory=pl.max_horizontal(pl.col("previous"), pl.lit(0.0)),
                beginning_backlog=pl.max_horizontal(-pl.col("previous"), pl.lit(0.0)),
                production=pl.col("regular_units") + pl.col("overtime_units") + pl.col("subcontract_units"),
                hours_used=pl.col("regular_hours") - pl.col("idle_hours") + pl.col("overtime_hours"),
                shared_capacity=pl.lit(shared_capacity, pl.Float64),
            )
            .with_columns(gross_margin=pl.col("planned_revenue") - pl.col("total_cost"))
            .select(SCENARIO_PLAN_COLUMNS))


def base_outcome(production_plan: pl.DataFrame, demand_plan: pl.DataFrame, problems: dict[str, Problem],
                 planning: PlanningSettings) -> ScenarioOutcome:
    """The published plan as scenario `base`: the production plan's rows of the chosen strategy."""
    chosen = production_plan.filter(pl.col("strategy") == planning.strategy)
    frame = scenario_plan_frame(BASE_SCENARIO, chosen, demand_plan, problems, planning.shared_capacity)
    return ScenarioOutcome(BASE_SCENARIO, f"The published plan ({planning.strategy})", frame)


@dataclass
class BasePlan:
    """The published plan's family problems and chosen production-plan rows, for reuse by scenarios."""

    planning: PlanningSettings
    problems: dict[str, Problem]
    rows: pl.DataFrame


def plan_scenario(scenario: Scenario, demand_plan: pl.DataFrame, forecast: pl.DataFrame,
                  accuracy: pl.DataFrame | None, planning: PlanningSettings, interval_width: float,
                  base: BasePlan | None = None) -> ScenarioOutcome:
    """Re-plan supply for one scenario (its strategy only); an impossible plan becomes the outcome's reason.

    Without shared capacity or work centres every family is planned on its own, so a family whose problem
    the scenario leaves exactly as the base plan's keeps the base plan's rows (the same plan, not solved
    again): a what-if on one family answers in the time of one family. Shared capacity or work centres
    couple the families, so then every family is planned again."""
    settings = scenario_planning(planning, scenario)
    demand = apply_demand_changes(demand_plan, scenario.demand)
    try:
        _stocks, problems = planning_inputs(demand, forecast, accuracy, settings, interval_width)
        check_resource_families(settings.resources, list(problems))
        unchanged: set[str] = set()
        if (base is not None and settings.shared_capacity is None and base.planning.shared_capacity is None
                and not settings.resources and not base.planning.resources
                and settings.strategy == base.planning.strategy):
            unchanged = {name for name, problem in problems.items() if base.problems.get(name) == problem}
        changed = {name: problem for name, problem in problems.items() if name not in unchanged}
        centres = work_centres(settings, changed)
        results = (plan_families(changed, settings.strategy, settings.shared_capacity, centres,
                                 together=base is not None and _fills_a_work_centre(base.rows, list(changed), centres),
                                 mip_options=SCENARIO_MIP_OPTIONS, limits=settings.solver.limits)
                   if changed else {})
        if settings.strategy == "optimal" and results:  # the invariant of supply.invariants.objective_errors
            objective = next(iter(results.values())).solver.get("objective")
            reported = sum(r.total_cost + r.safety_stock_penalty for r in results.values())
            if objective is not None and abs(objective - reported) > TOLERANCE * max(1.0, abs(reported)):
                raise PlanningError(f"the optimal model's objective {objective:,.2f} differs from the reported "
                                    f"cost of its plans {reported:,.2f}", where=f"scenario {scenario.name}",
                                    fix="Report this problem: the model and the reported costs disagree")
    except PlanningError as exc:
        return ScenarioOutcome(scenario.name, scenario.description, None, exc.message)
    rows = production_plan_frame({settings.strategy: results})
    if unchanged:
        rows = pl.concat([rows, base.rows.filter(pl.col("family").is_in(sorted(unchanged)))], how="vertical_relaxed")
    return ScenarioOutcome(scenario.name, scenario.description,
                           scenario_plan_frame(scenario.name, rows, demand, problems, settings.shared_capacity))


FULL = 0.99  # a work centre the published plan runs at 99% or more in some month binds it (whole workers
             # rarely fill it to the hour: the demo's Packing runs at 99.995% in 2027-03)


def _fills_a_work_centre(rows: pl.DataFrame, families: list[str], centres) -> bool:
    """Whether the published plan (production-plan rows) runs some work centre at `FULL` in some month:
    then it was planned together (the families' own plans overrun the centre), and most likely a scenario
    of it is too, so the scenario goes to the one model at once instead of family by family first. Either
    way the plan is the optimum; this only saves solving the families alone for nothing."""
    if centres is None or rows.is_empty():
        return False
    months = sorted(rows["month"].unique().to_list())
    made = np.zeros((len(families), len(months)))
    position = {family: i for i, family in enumerate(families)}
    column = {month: t for t, month in enumerate(months)}
    for family, month, units in rows.select("family", "month", pl.col("regular_units") + pl.col("overtime_units")).iter_rows():
        if family in position:
            made[position[family], column[month]] = units
    if made.shape[1] != centres.hours.shape[1]:
        return False
    used = centres.per_unit @ made
    return bool((used >= FULL * centres.hours).any())


def plan_cycle_scenarios(scenarios: list[Scenario], demand_plan: pl.DataFrame, forecast: pl.DataFrame,
                         accuracy: pl.DataFrame | None, production_plan: pl.DataFrame, planning: PlanningSettings,
                         interval_width: float, log: Callable[[str], None] | None = None) -> list[ScenarioOutcome]:
    """The base plan (from the production plan) and every scenario re-planned, base first. Every scenario is
    checked against the demand plan (families, months) before any is solved; a SettingsError lists them all."""
    log = log or (lambda _message: None)
    check_scenarios(scenarios, planning, demand_plan)
    _stocks, problems = planning_inputs(demand_plan, forecast, accuracy, planning, interval_width)
    base = BasePlan(planning, problems, production_plan.filter(pl.col("strategy") == planning.strategy))
    outcomes = [base_outcome(production_plan, demand_plan, problems, planning)]

    def planned(scenario: Scenario):
        started = time.perf_counter()
        outcome = plan_scenario(scenario, demand_plan, forecast, accuracy, planning, interval_width, base)
        return outcome, time.perf_counter() - started

    # The scenarios are independent models: solved side by side, one per core (interruptible.run_all).
    for scenario, (outcome, seconds) in zip(scenarios, interruptible.run_all(
            [lambda s=scenario: planned(s) for scenario in scenarios]), strict=True):
        outcomes.append(outcome)
        log(f"Scenario {scenario.name}: {outcome.status} ({seconds:.1f}s)")
    return outcomes


def plan_frame(outcomes: list[ScenarioOutcome]) -> pl.DataFrame:
    """Every planned scenario's rows, in the outcomes' order (infeasible scenarios have none)."""
    frames = [o.plan for o in outcomes if o.plan is not None]
    if not frames:
        return pl.DataFrame(schema={c: (pl.String if c in ("scenario", "family") else pl.Date if c == "month"
                                        else pl.Float64) for c in SCENARIO_PLAN_COLUMNS})
    return pl.concat(frames, how="vertical_relaxed")
