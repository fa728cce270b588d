"""The least-cost aggregate plan as one vectorised CVXPY model (HiGHS LP, or MILP for whole workers).

Every family is a row and every period a column of the same matrix variables, so N families cost
one model build, not N, and the terms are built with array arithmetic, never per period.

Per family f and period t (D demand, I/B ending inventory/backlog, P/O/C regular, overtime and
subcontracted units, W/H/L workers, hired, laid off; I_0, B_0, W_0 the initial values):

    I_t - B_t = I_{t-1} - B_{t-1} + P_t + O_t + C_t - D_t        inventory balance
    W_t = W_{t-1} + H_t - L_t                                    workforce balance
    labor_hours_per_unit * P_t <= W_t * hours_per_day * days_t   (= when allow_idle is false)
    labor_hours_per_unit * O_t <= max_overtime_hours_per_worker * W_t
    C_t <= max_subcontract_units;  min <= W_t <= max;  ending_min <= W_T <= ending_max (workforce.*)
    B_T = 0;  I_T >= ending_min;  B_t = 0 when allow_backlog is false
    S_t >= safety_stock_t - (I_t - B_t)   in months with safety stock (S >= 0: net stock below the
                                          soft safety-stock floor; a backlogged unit is below it too)
    O_t = 0 in a month with no working days (a closed plant makes nothing in-house)

Exactness. The shortfall is measured against net stock, so holding inventory and backlog in the same
month buys nothing: lowering both by min(I_t, B_t) keeps every constraint (they see I - B only; at
the horizon's end B_T = 0) and saves (holding + backlog) x min(I_t, B_t). With holding + backlog > 0
an optimum therefore never holds both, and when both costs are 0 holding both costs nothing either
way; so the objective is the plan's reported cost (`result.plan_result`: cash from net stock plus
the penalty on max(safety_stock - net, 0)) to solver tolerance. (Measured against gross inventory
the model kept its safety stock with units it had not made: "phantom stock".)

Shared plant capacity (optional, hours per period): the labour hours actually spent making
product, regular plus overtime, summed over families, may not exceed it:
    sum_f labor_hours_per_unit_f * (P_ft + O_ft) <= shared_capacity_hours_t

Work centres (optional, `ResourceLimits`): hours per unit made in-house by family; in every period
and for every centre r with a limit, sum_f hours_per_unit_rf * (P_ft + O_ft) <= hours_rt
(subcontracted units are made elsewhere and use none).

Cost (minimised): regular wages on every worker's paid regular hours (used or idle), overtime
wages, hiring, layoffs, holding on ending inventory, backlog on ending backlog, material on units
made in-house, subcontracting, plus the safety-stock shortfall penalty.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.common.lazy import LazyModule
from sop_pipeline.common.solver_limits import DEFAULT_LIMITS, TOLERANCE, SolverLimits, relative_gap
from sop_pipeline.config.problem import Problem
from sop_pipeline.supply import deadline_solve, interruptible

cp = LazyModule("cvxpy")  # imported by the first plan solved (CVXPY costs 1-3 s), not at start-up


@dataclass
class StackedData:
    """The problems' parameters as (families x periods) or (families,) arrays."""

    names: list[str]
    periods: list[str]
    demand: np.ndarray            # (F, T)
    hours_per_worker: np.ndarray  # (F, T) paid regular hours per worker
    lhpu: np.ndarray              # (F,) labour hours per unit
    w0: np.ndarray
    i0: np.ndarray
    b0: np.ndarray
    ending_min: np.ndarray
    safety_stock: np.ndarray      # (F, T)
    w_min: np.ndarray             # 0 where null
    w_max: np.ndarray             # inf where null
    w_end_min: np.ndarray         # workers at the horizon's end: 0 where null
    w_end_max: np.ndarray         # inf where null
    ot_max: np.ndarray            # overtime hours per worker, inf where null
    sub_max: np.ndarray           # inf where null
    allow_idle: np.ndarray        # bool
    allow_backlog: np.ndarray
    integer: np.ndarray
    cost: dict[str, np.ndarray] = field(default_factory=dict)  # each (F,)


@dataclass
class ResourceLimits:
    """Work centres as arrays: hours available (inf: no limit that period) and hours per unit by family."""

    names: list[str]
    hours: np.ndarray     # (R, T)
    per_unit: np.ndarray  # (R, F), families in the model's order


def _none_to(value, default: float) -> float:
    return default if value is None else float(value)


def stack(problems: list[Problem], names: list[str] | None = None) -> StackedData:
    periods = problems[0].period_names
    for prob in problems[1:]:
        if prob.period_names != periods:
            raise PlanningError(
                f"{prob.label} plans periods {prob.period_names[0]}..{prob.period_names[-1]} "
                f"({len(prob.periods)}) but {problems[0].label} plans {periods[0]}..{periods[-1]} ({len(periods)})",
                where="families solved together",
                fix="Give every family the same periods when they share capacity")
    col = lambda f: np.array([f(p) for p in problems], dtype=float)  # noqa: E731
    cost_names = ["regular_wage_per_hour", "overtime_wage_per_hour", "hire_per_worker", "layoff_per_worker",
                  "holding_per_unit_period", "backlog_per_unit_period", "material_per_unit", "subcontract_per_unit"]
    costs = {name: col(lambda p, n=name: getattr(p.costs, n)) for name in cost_names}
    costs["shortfall_penalty"] = col(lambda p: p.costs.shortfall_penalty)
    return StackedData(
        names=names or [p.name or f"family {i + 1}" for i, p in enumerate(problems)],
        periods=periods,
        demand=np.vstack([p.demand for p in problems]),
        hours_per_worker=np.vstack([p.hours_per_worker for p in problems]),
        lhpu=col(lambda p: p.production.labor_hours_per_unit),
        w0=col(lambda p: p.workforce.initial),
        i0=col(lambda p: p.inventory.initial),
        b0=col(lambda p: p.inventory.initial_backlog),
        ending_min=col(lambda p: p.inventory.ending_min),
        safety_stock=np.vstack([p.safety_stock for p in problems]),
        w_min=col(lambda p: _none_to(p.workforce.min, 0.0)),
        w_max=col(lambda p: _none_to(p.workforce.max, np.inf)),
        w_end_min=col(lambda p: _none_to(p.workforce.ending_min, 0.0)),
        w_end_max=col(lambda p: _none_to(p.workforce.ending_max, np.inf)),
        ot_max=col(lambda p: _none_to(p.production.max_overtime_hours_per_worker, np.inf)),
        sub_max=col(lambda p: _none_to(p.production.max_subcontract_units, np.inf)),
        allow_idle=np.array([p.production.allow_idle for p in problems]),
        allow_backlog=np.array([p.inventory.allow_backlog for p in problems]),
        integer=np.array([p.workforce.integer for p in problems]),
        cost=costs,
    )


def capacity_array(shared_capacity_hours, n_periods: int) -> np.ndarray | None:
    """Shared plant hours as one value per period (a single number applies to every period)."""
    if shared_capacity_hours is None:
        return None
    cap = np.broadcast_to(np.asarray(shared_capacity_hours, dtype=float), (n_periods,)).copy()
    if (cap < 0).any() or not np.isfinite(cap).all():
        raise PlanningError("Shared capacity must be a number of hours >= 0 in every period",
                            where="planning.shared_capacity", fix="Correct the shared capacity")
    return cap


@dataclass
class OptimalSolution:
    status: str
    values: dict[str, np.ndarray]   # each (F, T)
    objective: float | None
    mip_gap: float | None           # relative gap reached (0 for a linear model; None without a plan)
    build_seconds: float
    solve_seconds: float | None
    compile_seconds: float | None
    problem: cp.Problem
    rounded: bool = False           # the LP relaxation's crews rounded (`_rounded_plan`), not a branch-and-bound plan
    bound: float = -np.inf          # a lower bound on the optimum (the LP relaxation's cost, for a rounded plan)


def _rows(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _whole_workers(W, data: StackedData, relax: bool, fixed_workforce: np.ndarray | None) -> list:
    """Whole workers: an integer twin of those rows (CVXPY marks integrality per variable), or their crews
    fixed (`fixed_workforce`), or nothing (`relax`: the LP relaxation)."""
    r = _rows(data.integer)
    if not r.size or (relax and fixed_workforce is None):
        return []
    if fixed_workforce is not None:
        return [W[r, :] == fixed_workforce[r, :]]
    whole = cp.Variable((r.size, data.demand.shape[1]), name="whole_workers", integer=True)
    return [W[r, :] == whole]


def build(data: StackedData, shared_capacity_hours: np.ndarray | None = None,
          resources: ResourceLimits | None = None, relax: bool = False,
          fixed_workforce: np.ndarray | None = None):
    """The CVXPY problem and its variables; nothing is solved here.

    `relax`: whole workers may be fractional (the LP relaxation, a lower bound on the MILP's cost).
    `fixed_workforce` (F, T): the whole-worker rows' crews fixed to these values (an LP whose plans
    are plans of the MILP)."""
    n_f, n_t = data.demand.shape
    shape = (n_f, n_t)
    W = cp.Variable(shape, name="workforce", nonneg=True)
    H = cp.Variable(shape, name="hires", nonneg=True)
    L = cp.Variable(shape, name="layoffs", nonneg=True)
    P = cp.Variable(shape, name="regular_units", nonneg=True)
    O = cp.Variable(shape, name="overtime_units", nonneg=True)
    C = cp.Variable(shape, name="subcontract_units", nonneg=True)
    I = cp.Variable(shape, name="ending_inventory", nonneg=True)
    B = cp.Variable(shape, name="backlog", nonneg=True)
    S = cp.Variable(shape, name="safety_stock_shortfall", nonneg=True)
    col = lambda v: np.asarray(v).reshape(-1, 1)  # noqa: E731  (per-family scalars broadcast over periods)

    # Values "before" each period: the initial value, then the previous period's.
    w_prev = cp.hstack([col(data.w0), W[:, :-1]]) if n_t > 1 else col(data.w0)
    net_prev = cp.hstack([col(data.i0 - data.b0), (I - B)[:, :-1]]) if n_t > 1 else col(data.i0 - data.b0)
    regular_hours = cp.multiply(data.hours_per_worker, W)    # paid regular hours
    made_hours = cp.multiply(col(data.lhpu), P)              # regular hours spent making product

    cons = [
        I - B == net_prev + P + O + C - data.demand,
        W == w_prev + H - L,
        B[:, -1] == 0,
        I[:, -1] >= data.ending_min,
        W >= col(data.w_min),
    ]
    # Months without safety stock have no shortfall (a backlog there costs backlog only: textbook figures).
    buffered = (data.safety_stock > 0).astype(float)
    cons.append(S >= data.safety_stock - cp.multiply(buffered, I - B))
    if (closed := data.hours_per_worker <= 0).any():
        cons.append(cp.multiply(closed.astype(float), O) == 0)
    idle, exact = _rows(data.allow_idle), _rows(~data.allow_idle)
    if idle.size:
        cons.append(made_hours[idle, :] <= regular_hours[idle, :])
    if exact.size:
        cons.append(made_hours[exact, :] == regular_hours[exact, :])
    if (r := _rows(np.isfinite(data.w_max))).size:
        cons.append(W[r, :] <= col(data.w_max[r]))
    if (r := _rows(data.w_end_min > 0)).size:  # the crew the plan leaves behind (workforce.ending_min/max)
        cons.append(W[r, -1] >= data.w_end_min[r])
    if (r := _rows(np.isfinite(data.w_end_max))).size:
        cons.append(W[r, -1] <= data.w_end_max[r])
    if (r := _rows(np.isfinite(data.ot_max))).size:
        cons.append(cp.multiply(col(data.lhpu[r]), O[r, :]) <= cp.multiply(col(data.ot_max[r]), W[r, :]))
    if (r := _rows(np.isfinite(data.sub_max))).size:
        cons.append(C[r, :] <= col(data.sub_max[r]))
    if (r := _rows(~data.allow_backlog)).size:
        cons.append(B[r, :] == 0)
    cons += _whole_workers(W, data, relax, fixed_workforce)
    if shared_capacity_hours is not None:
        cons.append(cp.sum(made_hours + cp.multiply(col(data.lhpu), O), axis=0) <= shared_capacity_hours)
    if resources is not None:
        for r in range(len(resources.names)):  # one row per centre; the months are vectorised
            limited = np.flatnonzero(np.isfinite(resources.hours[r]))
            if limited.size:
                cons.append(resources.per_unit[r] @ (P + O)[:, limited] <= resources.hours[r, limited])

    c = data.cost
    cost = (
        cp.multiply(col(c["regular_wage_per_hour"]), regular_hours)
        + cp.multiply(col(c["overtime_wage_per_hour"] * data.lhpu), O)
        + cp.multiply(col(c["hire_per_worker"]), H)
        + cp.multiply(col(c["layoff_per_worker"]), L)
        + cp.multiply(col(c["holding_per_unit_period"]), I)
        + cp.multiply(col(c["backlog_per_unit_period"]), B)
        + cp.multiply(col(c["material_per_unit"]), P + O)
        + cp.multiply(col(c["subcontract_per_unit"]), C)
        + cp.multiply(col(c["shortfall_penalty"]), S)
    )
    problem = cp.Problem(cp.Minimize(cp.sum(cost)), cons)
    variables = dict(workforce=W, hires=H, layoffs=L, regular_units=P, overtime_units=O,
                     subcontract_units=C, ending_inventory=I, backlog=B, safety_stock_shortfall=S)
    return problem, variables


_BANNER_SHOWN = False
_BANNER_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS prints a banner on C-level stdout the first time a solver is made in a process; keep
    stdout clean for `plan --json`. Only that first solve is silenced, so other output is untouched."""
    global _BANNER_SHOWN
    with _BANNER_LOCK:  # scenarios solve on several threads (interruptible.run_all): one of them silences
        first, _BANNER_SHOWN = not _BANNER_SHOWN, True
    if not first:
        yield
        return
    fd = 1  # the C library writes to file descriptor 1, whatever Python's sys.stdout is
    sys.stdout.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no stdout at all
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def solve(data: StackedData, shared_capacity_hours: np.ndarray | None = None,
          limits: SolverLimits | None = None,
          resources: ResourceLimits | None = None, mip_options: dict | None = None) -> OptimalSolution:
    """Build and solve with HiGHS; the status is returned, not raised (diagnose.py explains it).

    `limits`: time limit and relative MIP gap (solver_limits.py). The time limit is one deadline for
    the whole model, from the start of its build: every phase (the rounded plan's LPs, branch and
    bound, CVXPY's compilation before each) gets the time left of it, so the solve ends within about
    a second of the limit (`_MIN_SOLVE_SECONDS`, plus one compilation). A model stopped at its time
    limit with a plan has status "time_limit" and its values; without one, no values. A model with
    several whole-worker families first finds a plan by rounding the LP relaxation's crews
    (`_rounded_plan`), then branch and bound gets the time left; when that finds nothing cheaper (or no
    time is left for it), the rounded plan is published: status "time_limit", `rounded` true, the gap
    against the better of the relaxation's and the search's bound. So a plan is found whenever a
    rounding of the crews is within the limit.
    `mip_options`: more HiGHS options for a model with whole workers (a MILP), e.g. how it searches;
    the optimum is the same to the MIP gap, the plan may be another of equal cost."""
    limits = limits or DEFAULT_LIMITS
    start = time.perf_counter()
    deadline = start + float(limits.time_limit_seconds)
    problem, variables = build(data, shared_capacity_hours, resources)
    build_seconds = time.perf_counter() - start
    options = limits.highs_options()
    mixed = problem.is_mixed_integer()
    rounded = None
    if mixed:
        options.update(_MIP_OPTIONS)
        options.update(mip_options or {})
        if int(data.integer.sum()) > 1:  # several whole-worker families in one model: a plan first
            rounded = _rounded_plan(data, shared_capacity_hours, resources, deadline, build_seconds)
            if rounded is not None and _seconds_left(deadline) < _MIN_SOLVE_SECONDS:
                # no time left for branch and bound: the rounded plan as it is, its gap against the relaxation
                return dataclasses.replace(
                    rounded, status="time_limit", problem=problem,
                    mip_gap=relative_gap(rounded.objective, rounded.bound))
    options["time_limit"] = max(_MIN_SOLVE_SECONDS, _seconds_left(deadline))
    if mixed and data.integer.sum() * data.demand.shape[1] >= _PROCESS_MIN_WHOLE_WORKERS:
        # HiGHS's root heuristics outrun its time limit on such models: a child process the deadline ends
        deadline_solve.solve(problem, options, time.perf_counter() + options["time_limit"])
    else:
        _run(problem, options)
    solution = _solution(problem, variables, data.demand.shape, build_seconds)
    if rounded is None:
        return solution
    bound = max(rounded.bound, _dual_bound(problem))
    if solution.objective is not None and solution.objective <= rounded.objective * (1 + TOLERANCE):
        gap = relative_gap(solution.objective, bound)
        return dataclasses.replace(solution, mip_gap=gap if solution.status != "optimal" else solution.mip_gap,
                                   solve_seconds=(rounded.solve_seconds or 0.0) + (solution.solve_seconds or 0.0))
    # Branch and bound found nothing (or nothing cheaper) in its time: the rounded plan, with its gap.
    return dataclasses.replace(
        rounded, status="optimal" if solution.status == "optimal" else "time_limit", problem=problem,
        mip_gap=relative_gap(rounded.objective, bound),
        solve_seconds=(rounded.solve_seconds or 0.0) + (solution.solve_seconds or 0.0),
        compile_seconds=(rounded.compile_seconds or 0.0) + (solution.compile_seconds or 0.0))


# The least time a solve is given even when the deadline has (nearly) passed: enough for HiGHS to
# return a plan of a small model; the most a solve can overrun the planner's limit by.
_MIN_SOLVE_SECONDS = 1.0
# Families of a plan are not interchangeable (each has its own demand and costs), so HiGHS's symmetry
# detection finds nothing to use; on 300 whole-worker families it ran for tens of seconds at the root.
_MIP_OPTIONS = {"mip_detect_symmetry": False}
# Whole-worker variables (families x months) from which branch and bound runs in a child process that the
# deadline can end (deadline_solve.py): 300 families x 24 months overran a 19 s limit by 24 s in HiGHS's
# root heuristics. Smaller models finish their root in well under a second, where a process would cost
# about one (the demo: 6 families).
_PROCESS_MIN_WHOLE_WORKERS = 1000


def _seconds_left(deadline: float) -> float:
    return deadline - time.perf_counter()


def _run(problem, options: dict) -> None:
    try:
        with _quiet_stdout():
            interruptible.run(lambda: problem.solve(solver=cp.HIGHS, **options))
    except cp.SolverError as exc:
        raise PlanningError(f"The HiGHS solver failed: {exc}", where="optimal plan",
                            fix="Check that highspy is installed; report the problem file if it persists") from None


def _whole_bounds(data: StackedData) -> tuple[np.ndarray, np.ndarray]:
    """The fewest and most whole workers each family may have in each period (workforce.min/max, ending_*)."""
    n_f, n_t = data.demand.shape
    low = np.repeat(np.ceil(data.w_min - TOLERANCE).reshape(-1, 1), n_t, axis=1)
    high = np.repeat(np.floor(data.w_max + TOLERANCE).reshape(-1, 1), n_t, axis=1)
    low[:, -1] = np.maximum(low[:, -1], np.ceil(data.w_end_min - TOLERANCE))
    high[:, -1] = np.minimum(high[:, -1], np.floor(data.w_end_max + TOLERANCE))
    return low, high


def _dual_bound(problem) -> float:
    """The best bound branch and bound proved (-inf when it proved none)."""
    info = getattr(problem.solver_stats, "extra_stats", None) if problem.solver_stats is not None else None
    dual = getattr(info, "mip_dual_bound", None)
    return float(dual) if dual is not None and np.isfinite(dual) else -np.inf


def _rounded_plan(data: StackedData, shared_capacity_hours, resources, deadline: float,
                  build_seconds: float) -> OptimalSolution | None:
    """A whole-worker plan found without branch and bound: the LP relaxation's crews rounded (up, else to
    the nearest, else down) and every other decision re-optimised for those crews, an LP. Its cost is an
    upper bound on the optimum, the relaxation's a lower bound (`bound`). None when no rounding is feasible
    or none is found by `deadline` (a `time.perf_counter()` instant).

    Large models with whole workers sharing a work centre can keep branch and bound from finding any plan
    within the time limit (300 families x 24 months); this plan is then published, its gap reported."""
    start = time.perf_counter()
    relaxed, relaxed_vars = build(data, shared_capacity_hours, resources, relax=True)
    # interior point: half the simplex time on 300 families
    _run(relaxed, {"time_limit": max(_MIN_SOLVE_SECONDS, _seconds_left(deadline)), "highs_options": {"solver": "ipm"}})
    if relaxed.status != cp.OPTIMAL or relaxed.value is None:
        return None
    crews = np.asarray(relaxed_vars["workforce"].value, dtype=float).reshape(data.demand.shape)
    low, high = _whole_bounds(data)
    for rounding in (lambda w: np.ceil(w - TOLERANCE), np.round, lambda w: np.floor(w + TOLERANCE)):
        if _seconds_left(deadline) <= 0:
            return None
        fixed = np.where(data.integer.reshape(-1, 1), np.clip(rounding(crews), low, high), crews)
        problem, variables = build(data, shared_capacity_hours, resources, fixed_workforce=fixed)
        _run(problem, {"time_limit": max(_MIN_SOLVE_SECONDS, _seconds_left(deadline)),
                       "highs_options": {"solver": "ipm"}})
        if problem.status == cp.OPTIMAL and problem.value is not None:
            solution = _solution(problem, variables, data.demand.shape, build_seconds)
            return dataclasses.replace(
                solution, rounded=True, bound=float(relaxed.value),
                solve_seconds=time.perf_counter() - start,
                compile_seconds=(relaxed.compilation_time or 0.0) + (problem.compilation_time or 0.0))
    return None


def _solution(problem, variables: dict, shape: tuple[int, int], build_seconds: float) -> OptimalSolution:
    stats = problem.solver_stats
    info = getattr(stats, "extra_stats", None)
    status = problem.status
    has_plan = status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
    if status == cp.USER_LIMIT:
        # HiGHS stopped at the time limit: a plan exists when its primal solution is feasible (status 2)
        has_plan = info is not None and getattr(info, "primal_solution_status", 0) == 2
        status = "time_limit" if has_plan else "time_limit_no_plan"
    values, gap = {}, None
    if has_plan:
        values = {name: np.asarray(var.value, dtype=float).reshape(shape)
                  for name, var in variables.items()}
        gap = 0.0
        if problem.is_mixed_integer() and info is not None:
            gap = float(getattr(info, "mip_gap", 0.0))
            gap = gap if np.isfinite(gap) else None
    return OptimalSolution(
        status=status,
        values=values,
        objective=None if not has_plan or problem.value is None or not np.isfinite(problem.value)
        else float(problem.value),
        mip_gap=gap,
        build_seconds=build_seconds,
        solve_seconds=getattr(stats, "solve_time", None),
        compile_seconds=getattr(problem, "compilation_time", None),
        problem=problem,
    )
