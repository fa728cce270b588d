"""Every strategy for every family of the cycle: level, chase and optimal plans (`solve_strategies`).

The supply stage, module by module (plain functions on Polars frames; no Dagster):
- `safety_stock`: safety stock per family, SKU and month from the forecast's uncertainty;
- `problems`: one aggregate-planning problem per family (`planning.defaults` merged with
  `planning.families[F]`, working days, safety stock) and the work centres as model arrays;
- `solve` (here): every strategy for every family;
- `tables`: `production_plan` and `strategy_comparison`; `sku_split`: the chosen plan split to SKUs
  (`inventory_plan`); `operating_plan`: people, hours and money; `invariants`: the tables' checks.

Impossible strategies. The chosen strategy (`planning.strategy`) must have a plan for every family,
otherwise nothing is published and the run fails with the planner's own explanation (PlanningError:
which family, which month, which limit). The optimal plans are always solved (they are the yardstick
the others are compared with) and must succeed. A level or chase plan that is impossible for a
family (a workforce above `workforce.max`, a month with no working days, or level/chase plans that
together exceed `planning.shared_capacity`) is not an error when it is not the chosen strategy: it
is recorded in `strategy_comparison` with `solver_status = 'infeasible: <reason>'`, null costs and
no `production_plan` rows.

Cost comparisons. All three strategies hold the same buffers where they can (strategies.py); the
optimal plan minimises cash plus the safety-stock shortfall penalty (not cash), so its cash
`total_cost` can exceed level's when meeting safety stock costs holding; its cash cost plus
`safety_stock_penalty` never exceeds any other strategy's, and both columns are published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.common.wording import families_named
from sop_pipeline.config.problem import Problem
from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply import diagnose
from sop_pipeline.supply.invariants import objective_errors
from sop_pipeline.supply.problems import work_centres
from sop_pipeline.supply.result import STRATEGIES, PlanResult
from sop_pipeline.supply.strategies import plan, plan_families
from sop_pipeline.supply.tables import production_plan_frame, strategy_comparison_frame
from sop_pipeline.supply.work_centres import check_resource_families


@dataclass
class SupplyPlans:
    """Every strategy's family plans, the strategies that have none, and the chosen strategy."""

    chosen_strategy: str
    results: dict[str, dict[str, PlanResult]]                           # strategy -> family -> plan
    infeasible: dict[str, dict[str, str]] = field(default_factory=dict)  # strategy -> family -> reason
    starting_workforce: dict[str, float] = field(default_factory=dict)   # family -> workers before the horizon

    @property
    def chosen(self) -> dict[str, PlanResult]:
        return self.results[self.chosen_strategy]

    @property
    def production_plan(self) -> pl.DataFrame:
        return production_plan_frame(self.results)

    @property
    def strategy_comparison(self) -> pl.DataFrame:
        return strategy_comparison_frame(self)


def _per_family(problems: dict[str, Problem], strategy: str,
                planning: PlanningSettings) -> tuple[dict[str, PlanResult], dict[str, PlanningError]]:
    """Level or chase plans, family by family; the impossible ones as reasons instead of plans."""
    results, infeasible = {}, {}
    for name, problem in problems.items():
        try:
            results[name] = plan(problem, strategy)
        except PlanningError as exc:
            infeasible[name] = exc
    if (planning.shared_capacity is not None or planning.resources) and results:
        try:  # together they may need more plant hours than the shared capacity, or work-centre hours
            plan_families({n: problems[n] for n in results}, strategy, planning.shared_capacity,
                          work_centres(planning, {n: problems[n] for n in results}), limits=planning.solver.limits)
        except PlanningError as exc:
            infeasible.update({n: exc for n in results})
            results = {}
    return results, infeasible


def solve_strategies(problems: dict[str, Problem], planning: PlanningSettings,
                     log: Callable[[str], None] | None = None) -> SupplyPlans:
    """Level, chase and optimal plans for every family (optimal families solved together, sharing
    `planning.shared_capacity` and the work centres of `planning.resources`). Raises PlanningError
    when the optimal or the chosen strategy has no plan for some family; see the module docstring."""
    log = log or (lambda _message: None)
    check_resource_families(planning.resources, list(problems))
    results: dict[str, dict[str, PlanResult]] = {}
    infeasible: dict[str, dict[str, str]] = {}
    for strategy in STRATEGIES:
        if strategy == "optimal":
            log(f"Solving the optimal plans of {len(problems)} families together (CVXPY/HiGHS)")
            results[strategy] = plan_families(problems, "optimal", planning.shared_capacity,
                                              work_centres(planning, problems), limits=planning.solver.limits)
            solver = next(iter(results[strategy].values())).solver if results[strategy] else {}
            gap = solver.get("mip_gap")
            log(f"Optimal plans: {solver.get('status')} in {solver.get('solve_seconds') or 0:.2f}s solve, "
                f"{solver.get('build_seconds') or 0:.2f}s build, gap reached "
                f"{'n/a' if gap is None else f'{gap:.2e}'} (limit {planning.solver.mip_gap:g}, "
                f"{planning.solver.time_limit_seconds:g} s)"
                + ("; the plan is the LP relaxation's crews rounded (branch and bound found none cheaper in "
                   "its time), gap against the LP bound" if solver.get("rounded") else ""))
            continue
        results[strategy], errors = _per_family(problems, strategy, planning)
        for name, exc in errors.items():
            if strategy == planning.strategy:
                raise PlanningError(f"The chosen strategy has no plan for family {name}: {exc.what}",
                                    where=f"{exc.where}; planning.strategy = {strategy}", fix=exc.fix)
        for message, names in _families_by_reason(errors).items():
            log(f"No {strategy} plan for {families_named(names, 6)}: {message}")
        infeasible[strategy] = {name: exc.message for name, exc in errors.items()}
    plans = SupplyPlans(planning.strategy, results, infeasible,
                        {name: p.workforce.initial for name, p in problems.items()})
    if errors := objective_errors(plans.strategy_comparison):  # an invariant: fail loudly, publish nothing
        raise PlanningError("; ".join(errors), where="optimal plan",
                            fix="Report this problem: the model and the reported costs disagree")
    if sold_off := diagnose.buffers_sold_off(problems, results["optimal"]):
        log(diagnose.sold_off_message(sold_off))
    return plans


def _families_by_reason(errors: dict[str, PlanningError]) -> dict[str, list[str]]:
    """The families of each distinct reason (a work centre that level plans overrun fails them all alike:
    one console line, not one per family)."""
    by_reason: dict[str, list[str]] = {}
    for name, exc in errors.items():
        by_reason.setdefault(exc.message, []).append(name)
    return by_reason
