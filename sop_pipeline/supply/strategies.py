"""Level, chase and optimal plans, exactly as docs/contracts.md ("Aggregate-planning problem", Strategies) defines them.

- level: one workforce for the whole horizon (a single hire or layoff before the first period),
  the smallest that meets every period's demand on time from regular time with inventory
  absorbing the difference, and keeps every period's ending inventory at or above its floor (the
  safety stock; at the last period also the ending target). In closed form: the largest, over
  periods t, of (cumulative demand to t - initial inventory + initial backlog + floor_t)
  / (cumulative regular units one worker makes to t). No overtime, subcontracting or backlog.
- chase: each period's workforce is the smallest whose regular time covers that period's demand
  net of the inventory on hand, plus its floor: (demand_t - net inventory before t + floor_t) /
  units one worker makes in t.
- optimal: the least-cost plan using every lever the problem allows (model.py).

The floor of period t is its safety stock (zero where the problem has none), and at the last
period the larger of that and `inventory.ending_min`. So all three strategies hold the same
buffers: the level and chase plans are feasible plans of the optimal model with no safety-stock
penalty, and the optimal plan never costs more cash than either. Textbook problems (no safety
stock) keep their published figures.

With `workforce.integer: true` level and chase round workers up; `workforce.min` is a floor.

Idle time in level and chase: workers are paid for all their regular hours either way. When
`production.allow_idle` is false they make all they can and the surplus goes to stock. When it is
true they make only what is needed, as late as their capacity allows (the rest of their time is
idle): surplus stock would cost holding for nothing, idle hours cost no more than busy ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.common.solver_limits import DEFAULT_LIMITS, TOLERANCE, SolverLimits
from sop_pipeline.config.problem import Problem
from sop_pipeline.supply import diagnose, model
from sop_pipeline.supply.result import STRATEGIES, PlanResult, plan_result
from sop_pipeline.supply.work_centres import check_resource_use

SOLVED = ("optimal", "optimal_inaccurate", "time_limit")  # statuses with a plan (time_limit: with its gap)



def _whole(workers: np.ndarray | float, problem: Problem):
    # A hair of tolerance so 64.0000000001 workers (float noise) is 64, not 65.
    return np.ceil(np.asarray(workers) - TOLERANCE) if problem.workforce.integer else workers


def _net_initial(problem: Problem) -> float:
    return problem.inventory.initial - problem.inventory.initial_backlog


def _stock_floor(problem: Problem) -> np.ndarray:
    """The inventory each period must end with: its safety stock, at the last period also the ending target."""
    floor = problem.safety_stock.copy()
    floor[-1] = max(floor[-1], problem.inventory.ending_min)
    return floor


def _and_buffers(problem: Problem) -> str:
    return " and keeping safety stock" if problem.safety_stock.any() else ""


def _no_capacity(problem: Problem, strategy: str, t: int, need: float) -> PlanningError:
    name = problem.period_names[t]
    return PlanningError(
        f"A {strategy} plan is impossible: {fmt(need)} units must be made from regular time by {name} "
        f"but there are no working days to make them in",
        where=f"{problem.label}, {name}", fix="Check working_days or use the optimal strategy")


fmt = diagnose.fmt


def _schedule(problem: Problem, workforce: np.ndarray) -> np.ndarray:
    """Regular units for a given workforce: all it can make, or only what is needed, as late as possible."""
    capacity = workforce * problem.units_per_worker
    if not problem.production.allow_idle:
        return capacity
    demand = problem.demand
    n = len(demand)
    floor = _stock_floor(problem)
    carry = floor.copy()                      # inventory each period must end with to meet later demand
    for t in range(n - 1, 0, -1):
        carry[t - 1] = max(floor[t - 1], demand[t] + carry[t] - capacity[t])
    regular = np.zeros(n)
    net = _net_initial(problem)
    for t in range(n):
        regular[t] = min(capacity[t], max(0.0, demand[t] + carry[t] - net))
        net += regular[t] - demand[t]
    return regular


def _check_max(problem: Problem, strategy: str, workforce: np.ndarray, reason) -> None:
    w_max = problem.workforce.max
    if w_max is not None and (over := np.flatnonzero(workforce > w_max + TOLERANCE)).size:
        t = over[int(np.argmax(workforce[over]))]
        raise diagnose.strategy_limit(problem, strategy, float(workforce[t]), int(t), reason(t))


def level_plan(problem: Problem) -> PlanResult:
    demand, per_worker = problem.demand, problem.units_per_worker
    need = np.cumsum(demand) - _net_initial(problem) + _stock_floor(problem)
    cum_capacity = np.cumsum(per_worker)
    ratios = np.zeros(len(demand))
    for t in np.flatnonzero(need > TOLERANCE):
        if cum_capacity[t] <= 0:
            raise _no_capacity(problem, "level", int(t), float(need[t]))
        ratios[t] = need[t] / cum_capacity[t]
    # One crew for the whole horizon, so also the crew it ends with: at least workforce.ending_min.
    workers = max(float(ratios.max()), problem.workforce.min or 0.0, problem.workforce.ending_min or 0.0)
    workforce = np.full(len(demand), float(_whole(workers, problem)))
    _check_ending(problem, "level", workforce)
    _check_max(problem, "level", workforce,
               lambda t: f"meeting demand on time{_and_buffers(problem)} from regular time up to "
                         f"{problem.period_names[int(np.argmax(ratios))]}")
    return plan_result(problem, "level", workforce, _schedule(problem, workforce))


def chase_plan(problem: Problem) -> PlanResult:
    demand, per_worker = problem.demand, problem.units_per_worker
    n = len(demand)
    allow_idle = problem.production.allow_idle
    workforce, regular = np.zeros(n), np.zeros(n)
    net = _net_initial(problem)
    fewest = problem.workforce.min or 0.0
    stock_floor = _stock_floor(problem)
    for t in range(n):
        need = max(0.0, demand[t] + stock_floor[t] - net)
        if need > TOLERANCE and per_worker[t] <= 0:
            raise _no_capacity(problem, "chase", t, need)
        workers = need / per_worker[t] if need > TOLERANCE else 0.0
        workforce[t] = _whole(max(workers, fewest), problem)
        capacity = workforce[t] * per_worker[t]
        regular[t] = capacity if not allow_idle else min(capacity, need)
        if t == n - 1 and problem.workforce.ending_min and workforce[t] < problem.workforce.ending_min:
            workforce[t] = _whole(problem.workforce.ending_min, problem)  # the crew kept at the horizon's end
            capacity = workforce[t] * per_worker[t]
            regular[t] = capacity if not allow_idle else min(capacity, need)
        net += regular[t] - demand[t]
    _check_max(problem, "chase", workforce,
               lambda t: f"covering the demand{_and_buffers(problem)} of {problem.period_names[t]}")
    _check_ending(problem, "chase", workforce)
    return plan_result(problem, "chase", workforce, regular)


def _check_ending(problem: Problem, strategy: str, workforce: np.ndarray) -> None:
    end_max = problem.workforce.ending_max
    if end_max is not None and workforce[-1] > end_max + TOLERANCE:
        name = problem.period_names[-1]
        raise PlanningError(
            f"A {strategy} plan is impossible: it needs {fmt(workforce[-1])} workers in {name} but "
            f"workforce.ending_max allows {fmt(end_max)} at the end of the horizon",
            where=f"{problem.label}, {name}", fix="Raise workforce.ending_max or use the optimal strategy")


def _solver_info(solution: model.OptimalSolution) -> dict:
    return {"status": solution.status, "objective": solution.objective, "mip_gap": solution.mip_gap,
            "rounded": solution.rounded,
            "build_seconds": solution.build_seconds,
            "solve_seconds": solution.solve_seconds, "compile_seconds": solution.compile_seconds}


def optimal_plans(problems: dict[str, Problem], shared_capacity_hours=None,
                  resources: model.ResourceLimits | None = None, together: bool = False,
                  mip_options: dict | None = None, limits: SolverLimits | None = None) -> dict[str, PlanResult]:
    """The least-cost plans of several families.

    Coupled by shared capacity they are one model. Otherwise the families are independent and each
    is solved alone: the same optimum, found faster, because branch and bound on one block-diagonal
    MILP works through the blocks together (demo, 6 families with whole workers: 0.78 s in one model,
    0.34 s one by one). The solver figures attached to every plan are then the totals of the models.
    Work centres (`resources`, families in `problems` order) couple the families only where those
    plans overrun one; then the families are solved together, in one model that respects them.
    `together` skips the plans one by one when the caller knows they would overrun a work centre (a
    scenario of a published plan that fills one): one model at once, the same optimum. `mip_options`
    go to HiGHS for whole-worker models (`model.solve`).
    """
    names = list(problems)
    probs = [problems[n] for n in names]
    for prob in probs:
        diagnose.check_feasible(prob)
    if shared_capacity_hours is None and len(names) > 1 and not (together and resources is not None):
        plans = {name: _solve_together([name], [prob], None, mip_options=mip_options, limits=limits)[name]
                 for name, prob in zip(names, probs)}
        # Plans that already fit every work centre are also the coupled model's optimum (it only adds
        # constraints); otherwise the families are solved together (demo: 0.3 s alone, 5-10 s coupled).
        if resources is None or _fits(resources, plans):
            info = _total_info([plan.solver for plan in plans.values()])
            return {name: dataclasses.replace(plan, solver=info) for name, plan in plans.items()}
    return _solve_together(names, probs, shared_capacity_hours, resources, mip_options, limits)


def _made_in_house(plans: dict[str, PlanResult]) -> np.ndarray:
    """Regular + overtime units per family (rows, in the plans' order) and period: what uses the work centres."""
    return np.vstack([(p.periods["regular_units"] + p.periods["overtime_units"]).to_numpy() for p in plans.values()])


def _fits(resources: model.ResourceLimits, plans: dict[str, PlanResult]) -> bool:
    used = resources.per_unit @ _made_in_house(plans)
    return bool((used <= resources.hours + TOLERANCE * np.maximum(1.0, resources.hours)).all())


def _solve_together(names: list[str], probs: list[Problem], shared_capacity_hours,
                    resources: model.ResourceLimits | None = None, mip_options: dict | None = None,
                    limits: SolverLimits | None = None) -> dict[str, PlanResult]:
    data = model.stack(probs, names)
    capacity = model.capacity_array(shared_capacity_hours, len(data.periods))
    if capacity is not None:
        diagnose.check_shared_capacity(probs, names, capacity)
    if resources is not None:
        diagnose.check_resources(probs, resources.names, resources.hours, resources.per_unit)
    solution = model.solve(data, capacity, limits=limits, resources=resources, mip_options=mip_options)
    if solution.status == "time_limit_no_plan":
        seconds = (limits or DEFAULT_LIMITS).time_limit_seconds
        raise PlanningError(
            f"The optimal plan of {', '.join(p.label for p in probs[:3])}{' and more' if len(probs) > 3 else ''} "
            f"found no feasible plan within the time limit of {seconds:g} s",
            where="planning.solver.time_limit_seconds",
            fix="Raise planning.solver.time_limit_seconds (or planning.solver.mip_gap), or check the limits "
                "of these families")
    if solution.status not in SOLVED:
        raise diagnose.explain_status(solution.status, [p.label for p in probs], capacity is not None,
                                      resources.names if resources is not None else None)
    info = _solver_info(solution)
    v = solution.values
    return {
        name: plan_result(prob, "optimal", v["workforce"][i], v["regular_units"][i], v["overtime_units"][i],
                          v["subcontract_units"][i], status=solution.status, solver=info)
        for i, (name, prob) in enumerate(zip(names, probs))
    }


def _total_info(infos: list[dict]) -> dict:
    statuses = {info["status"] for info in infos}
    status = ("optimal" if statuses == {"optimal"} else "time_limit" if "time_limit" in statuses
              else "optimal_inaccurate")
    total = {"status": status, "models": len(infos), "rounded": any(info.get("rounded") for info in infos)}
    for key in ("objective", "build_seconds", "solve_seconds", "compile_seconds"):
        values = [info.get(key) for info in infos]
        total[key] = None if any(v is None for v in values) else float(sum(values))
    gaps = [info.get("mip_gap") for info in infos]
    total["mip_gap"] = None if any(g is None for g in gaps) else float(max(gaps, default=0.0))
    return total


def plan(problem: Problem, strategy: str) -> PlanResult:
    """One strategy's plan for one problem (PlanningError when there is none)."""
    if strategy == "level":
        return level_plan(problem)
    if strategy == "chase":
        return chase_plan(problem)
    if strategy == "optimal":
        return next(iter(optimal_plans({problem.name or "problem": problem}).values()))
    raise PlanningError(f"Unknown strategy {strategy!r}", where="strategy",
                        fix=f"Use one of {', '.join(STRATEGIES)}")


def plan_all(problem: Problem) -> dict[str, PlanResult]:
    """Level, chase and optimal plans for one problem, in that order."""
    return {strategy: plan(problem, strategy) for strategy in STRATEGIES}


def plan_families(problems: dict[str, Problem], strategy: str, shared_capacity_hours=None,
                  resources: model.ResourceLimits | None = None, together: bool = False,
                  mip_options: dict | None = None, limits: SolverLimits | None = None) -> dict[str, PlanResult]:
    """One strategy for every family. The optimal plans share `shared_capacity_hours` (plant hours
    per period, a number or one per period) in one model, see `optimal_plans` (and `together`); level
    and chase plans follow their definitions per family, and a PlanningError says so when together they
    need more plant hours than the shared capacity, or more hours of a work centre (`resources`, families
    in `problems` order) than it has, in some period."""
    if strategy == "optimal":
        return optimal_plans(problems, shared_capacity_hours, resources, together, mip_options, limits)
    results = {name: plan(prob, strategy) for name, prob in problems.items()}
    if shared_capacity_hours is not None and results:
        first = next(iter(problems.values()))
        capacity = model.capacity_array(shared_capacity_hours, len(first.periods))
        used = sum(_hours_used(r.periods) for r in results.values())
        if (over := np.flatnonzero(used > capacity + TOLERANCE)).size:
            t = over[0]
            raise PlanningError(
                f"The {strategy} plans of all families need {fmt(used[t])} plant hours in {first.period_names[t]} "
                f"but the shared capacity is {fmt(capacity[t])}",
                where=f"planning.shared_capacity, {first.period_names[t]}",
                fix="Raise the shared capacity or publish the optimal strategy, which respects it")
    if resources is not None and results:
        check_resource_use(resources, _made_in_house(results), next(iter(problems.values())).period_names, strategy)
    return results


def _hours_used(frame: pd.DataFrame) -> np.ndarray:
    return (frame["regular_hours"] - frame["idle_hours"] + frame["overtime_hours"]).to_numpy()


def resource_requirements(problems: dict[str, Problem], results: dict[str, PlanResult]) -> pd.DataFrame:
    """Bottom-up labour requirement per family and period, plus an all-families total (family "ALL").

    Columns: family, period, demand_hours (demand x labour hours per unit: rough-cut need),
    regular_hours (paid), hours_needed (hours the plan spends making product, regular + overtime),
    overtime_hours, idle_hours, workforce.
    """
    rows = []
    for name, result in results.items():
        frame = result.periods
        rows.append(pd.DataFrame({
            "family": name,
            "period": frame["period"],
            "demand_hours": frame["demand"] * problems[name].production.labor_hours_per_unit,
            "regular_hours": frame["regular_hours"],
            "hours_needed": _hours_used(frame),
            "overtime_hours": frame["overtime_hours"],
            "idle_hours": frame["idle_hours"],
            "workforce": frame["workforce"],
        }))
    if not rows:
        return pd.DataFrame(columns=["family", "period", "demand_hours", "regular_hours", "hours_needed",
                                     "overtime_hours", "idle_hours", "workforce"])
    detail = pd.concat(rows, ignore_index=True)
    total = detail.drop(columns="family").groupby("period", sort=False, as_index=False).sum()
    total.insert(0, "family", "ALL")
    return pd.concat([detail, total], ignore_index=True)
