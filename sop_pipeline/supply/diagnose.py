"""Impossible plans explained in the planner's words: which period, which limit, by how much.

The checks are cheap closed-form bounds run before the solver, so a planner reads
"demand in 2027-03 exceeds the most that regular time, overtime and subcontracting can make by
1,250 units while backlog is not allowed" instead of a bare `infeasible`. If the solver still
finds no plan, `explain_status` says so with the settings that interact.
"""

from __future__ import annotations

import numpy as np

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.problem import Problem


def fmt(value: float) -> str:
    """1250 -> '1,250'; 12.5 -> '12.5'; inf -> 'unlimited'."""
    if not np.isfinite(value):
        return "unlimited"
    return f"{value:,.0f}" if abs(value - round(value)) < TOLERANCE else f"{value:,.2f}"


def _times(a, b):
    """a * b with 0 * inf = 0 (no working days means no output, however many workers)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    out = np.zeros(a.shape)
    nz = (a != 0) & (b != 0)
    out[nz] = a[nz] * b[nz]
    return out


def max_output(problem: Problem) -> dict[str, np.ndarray]:
    """The most each lever can make per period, with the largest workforce allowed."""
    w_max = np.inf if problem.workforce.max is None else problem.workforce.max
    ot = problem.production.max_overtime_hours_per_worker
    sub = problem.production.max_subcontract_units
    n = len(problem.periods)
    regular = _times(w_max, problem.units_per_worker)
    overtime = _times(w_max, np.full(n, (np.inf if ot is None else ot) / problem.production.labor_hours_per_unit))
    subcontract = np.full(n, np.inf if sub is None else float(sub))
    return {"regular": regular, "overtime": overtime, "subcontract": subcontract}


def _limits_text(problem: Problem) -> str:
    parts = []
    if problem.workforce.max is not None:
        parts.append(f"workforce.max = {fmt(problem.workforce.max)} workers")
    ot = problem.production.max_overtime_hours_per_worker
    parts.append("no overtime" if ot == 0 else
                 f"max_overtime_hours_per_worker = {fmt(ot)}" if ot is not None else "unlimited overtime")
    sub = problem.production.max_subcontract_units
    parts.append("no subcontracting" if sub == 0 else
                 f"max_subcontract_units = {fmt(sub)}" if sub is not None else "unlimited subcontracting")
    return ", ".join(parts)


def check_feasible(problem: Problem) -> None:
    """Raise PlanningError when no plan can meet the problem's demand and ending target."""
    names = problem.period_names
    out = max_output(problem)
    most = out["regular"] + out["overtime"] + out["subcontract"]
    net0 = problem.inventory.initial - problem.inventory.initial_backlog
    slack = net0 + np.cumsum(most) - np.cumsum(problem.demand)   # best cumulative position
    fix = ("Raise workforce.max, allow more overtime (production.max_overtime_hours_per_worker) or "
           "subcontracting (production.max_subcontract_units)")
    where = f"{problem.label}, {{period}}"
    if not problem.inventory.allow_backlog:
        bad = np.flatnonzero(slack < -TOLERANCE)
        if bad.size:
            t = bad[0]
            raise PlanningError(
                f"Demand in {names[t]} exceeds the most that regular time, overtime and subcontracting can make "
                f"(with inventory built beforehand) by {fmt(-slack[t])} units while backlog is not allowed "
                f"({_limits_text(problem)})",
                where=where.format(period=names[t]),
                fix=fix + ", or set inventory.allow_backlog: true")
    short = problem.inventory.ending_min - slack[-1]
    if short > TOLERANCE:
        target = (f"demand plus the ending inventory of {fmt(problem.inventory.ending_min)} (inventory.ending_min)"
                  if problem.inventory.ending_min else "demand")
        raise PlanningError(
            f"By the end of {names[-1]} the plan cannot make {target}: the most that regular time, overtime and "
            f"subcontracting can make over the horizon falls short by {fmt(short)} units ({_limits_text(problem)}), "
            f"and the horizon must end with no backlog",
            where=where.format(period=names[-1]),
            fix=fix + (", or lower inventory.ending_min" if problem.inventory.ending_min else ""))


def _forced_units(problem: Problem) -> np.ndarray:
    """Units per period a family must make on regular time: its minimum workforce may not be idle."""
    if problem.production.allow_idle or not problem.workforce.min:
        return np.zeros(len(problem.periods))
    return problem.workforce.min * problem.units_per_worker


def _inhouse_units_by(problem: Problem) -> np.ndarray:
    """Cumulative units a family must make in-house by each period: demand (and the ending target)
    beyond its initial stock and its subcontracting limit, due on time where backlog is not allowed."""
    n = len(problem.periods)
    sub = problem.production.max_subcontract_units
    if sub is None:
        return np.zeros(n)
    net0 = problem.inventory.initial - problem.inventory.initial_backlog
    req = np.cumsum(problem.demand) - net0 - sub * np.arange(1, n + 1)
    if problem.inventory.allow_backlog:
        req[:-1] = 0.0
    req[-1] += problem.inventory.ending_min
    return np.maximum.accumulate(np.maximum(req, 0.0))


def check_resources(problems: list[Problem], names: list[str], hours: np.ndarray, per_unit: np.ndarray) -> None:
    """Raise PlanningError when the families' unavoidable in-house units need more hours of a work
    centre than it has (`hours`: centres x periods, inf = no limit; `per_unit`: centres x families)."""
    periods = problems[0].period_names
    forced = per_unit @ np.vstack([_forced_units(p) for p in problems])
    needed = per_unit @ np.vstack([_inhouse_units_by(p) for p in problems])
    for r, name in enumerate(names):
        if (over := np.flatnonzero(forced[r] > hours[r] + TOLERANCE)).size:
            t = over[0]
            raise PlanningError(
                f"{name} needs {fmt(round(forced[r, t]))} h in {periods[t]}; {fmt(hours[r, t])} are available "
                "(families that may not leave workers idle, production.allow_idle: false, make that much "
                "with their minimum workforce)",
                where=f"planning.resources ({name}), {periods[t]}",
                fix=f"Raise {name}'s hours_per_month, lower workforce.min or allow idle time")
        available = np.cumsum(hours[r])
        if (over := np.flatnonzero(needed[r] > available + TOLERANCE)).size:
            t = over[0]
            raise PlanningError(
                f"{name} needs {fmt(round(needed[r, t]))} h by {periods[t]}; {fmt(available[t])} are available up "
                f"to then (units that must be made in-house: demand beyond the families' stock and subcontracting "
                f"limits)", where=f"planning.resources ({name}), {periods[t]}",
                fix=f"Raise {name}'s hours_per_month, allow more subcontracting or allow backlog")


def check_shared_capacity(problems: list[Problem], names: list[str], capacity: np.ndarray) -> None:
    """Raise PlanningError when the families' unavoidable plant hours exceed the shared capacity."""
    periods = problems[0].period_names
    # hours that cannot be idle (allow_idle false, workforce.min), and cumulative hours that must be
    # made in-house by each period
    forced = sum(prob.production.labor_hours_per_unit * _forced_units(prob) for prob in problems)
    needed = sum(prob.production.labor_hours_per_unit * _inhouse_units_by(prob) for prob in problems)
    over = np.flatnonzero(forced > capacity + TOLERANCE)
    if over.size:
        t = over[0]
        raise PlanningError(
            f"The shared capacity is too small in {periods[t]}: families that may not leave workers idle "
            f"(production.allow_idle: false) need {fmt(forced[t])} hours for their minimum workforce, "
            f"the plant has {fmt(capacity[t])}",
            where=f"planning.shared_capacity, {periods[t]}",
            fix="Raise the shared capacity, lower workforce.min or allow idle time")
    over = np.flatnonzero(needed > np.cumsum(capacity) + TOLERANCE)
    if over.size:
        t = over[0]
        raise PlanningError(
            f"The shared capacity is too small by {periods[t]}: the families must make at least "
            f"{fmt(needed[t])} labour hours of product in-house by then (demand beyond their subcontracting "
            f"limits), the plant offers {fmt(np.cumsum(capacity)[t])} hours up to then, "
            f"{fmt(needed[t] - np.cumsum(capacity)[t])} hours short",
            where=f"planning.shared_capacity, {periods[t]}",
            fix="Raise the shared capacity, allow more subcontracting or allow backlog")


def strategy_limit(problem: Problem, strategy: str, workers: float, period: int, reason: str) -> PlanningError:
    """The error for a level or chase plan that needs more workers than workforce.max allows."""
    names = problem.period_names
    return PlanningError(
        f"A {strategy} plan is impossible: {reason} needs {fmt(workers)} workers in {names[period]} "
        f"but workforce.max is {fmt(problem.workforce.max)}",
        where=f"{problem.label}, {names[period]}",
        fix=f"Raise workforce.max to at least {fmt(np.ceil(workers - TOLERANCE))} or use the optimal strategy, "
            f"which can also use overtime, subcontracting and backlog")


def explain_status(status: str, labels: list[str], shared: bool, resources: list[str] | None = None) -> PlanningError:
    """The solver found no plan although the simple bounds pass: say what interacts."""
    if status in ("infeasible", "infeasible_inaccurate"):
        what = "No production plan satisfies every limit at once"
        hints = ["workforce.min together with production.allow_idle: false",
                 "inventory.allow_backlog: false with little capacity early in the horizon"]
        if shared:
            hints.insert(0, "the shared capacity across families")
        if resources:
            hints.insert(0, f"the hours of the work centres {', '.join(resources)} (planning.resources)")
        return PlanningError(
            f"{what} for {', '.join(labels[:5])}{' and others' if len(labels) > 5 else ''}; "
            f"the limits that interact are: {'; '.join(hints)}",
            where="optimal plan", fix="Relax one of these limits and plan again")
    if status in ("unbounded", "unbounded_inaccurate"):
        return PlanningError("The optimal plan is unbounded, which means a negative cost was accepted",
                             where="optimal plan", fix="Check that every cost is >= 0")
    return PlanningError(f"The solver stopped without a plan (status: {status})", where="optimal plan",
                         fix="Try again with fewer families at once or report the problem")


def unit_making_cost(problem: Problem) -> float:
    """What one more unit costs to make: material plus regular wages for its labour hours, or
    subcontracting it where that is cheaper and allowed (the same measure `init`'s shortfall cost uses)."""
    costs, production = problem.costs, problem.production
    made = costs.material_per_unit + costs.regular_wage_per_hour * production.labor_hours_per_unit
    if production.max_subcontract_units is None or production.max_subcontract_units > 0:
        made = min(made, costs.subcontract_per_unit)
    return made


def buffers_sold_off(problems: dict[str, Problem], optimal: dict) -> dict[str, tuple[float, float, float]]:
    """Families whose optimal plan ends its last month below safety stock by their own settings: a unit of
    buffer kept there is made and never sold within the horizon, so it pays only when the shortfall cost
    per unit is at least the unit's making cost. Family -> (units below, shortfall cost, making cost)."""
    found = {}
    for name, problem in problems.items():
        plan = optimal.get(name)
        if plan is None:
            continue
        last = plan.periods.iloc[-1]
        below = float(last["safety_stock"]) - (float(last["ending_inventory"]) - float(last["backlog"]))
        making = unit_making_cost(problem)
        if below > TOLERANCE * max(1.0, float(last["safety_stock"])) and problem.costs.shortfall_penalty < making:
            found[name] = (below, problem.costs.shortfall_penalty, making)
    return found


def sold_off_message(found: dict[str, tuple[float, float, float]]) -> str:
    """The console line naming them, so the planner knows it is their settings, not a fault."""
    listed = ", ".join(f"{name} ({below:,.0f} units below; shortfall cost {penalty:g}/unit < {making:,.2f} to "
                       f"make one)" for name, (below, penalty, making) in found.items())
    return (f"Optimal plans end the horizon below safety stock by their settings: {listed}. Keeping the buffer "
            f"in the last month costs more than the shortfall; set costs.safety_stock_shortfall_per_unit above "
            f"the unit's making cost to keep it")
