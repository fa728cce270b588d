"""Branch and bound that ends at the planner's deadline: HiGHS in a child process, ended when time is up.

HiGHS 1.16 checks its time limit (and its interrupt callbacks) between phases of the search, not inside
its root heuristics: on 300 whole-worker families sharing a work centre, its central rounding ran 30 s
past a 19 s limit with neither the time limit nor `cancelSolve` stopping it (the interrupt callbacks are
not called there). A thread cannot be stopped; a process can. So a large MILP runs in a child process
(spawned, not forked: the parent may hold other threads' locks) that streams each improving plan back;
at the deadline (plus `GRACE_SECONDS` for HiGHS to stop by itself) the child is killed and the last plan
it found is the result, status time limit, with the gap against the bound it had proved. Ctrl-C and
SIGTERM reach the parent, which kills the child on its way out.

The child gets CVXPY's own compiled data (`problem.get_problem_data`), builds HiGHS's model from it as
CVXPY's conic HiGHS interface does, and the result is unpacked by CVXPY (`problem.unpack_results`), so
the variables' values are set exactly as by `problem.solve`.
"""

from __future__ import annotations

import multiprocessing
import time
from types import SimpleNamespace

import numpy as np

from sop_pipeline.common.lazy import LazyModule
from sop_pipeline.common.solver_limits import relative_gap

cp = LazyModule("cvxpy")
GRACE_SECONDS = 1.0   # HiGHS's own time limit usually ends the search first; this is the backstop
_POLL_SECONDS = 0.1


def solve(problem, options: dict, deadline: float) -> None:
    """Solve `problem` (a CVXPY MILP) with HiGHS `options`, ending at `deadline` (time.perf_counter())."""
    data, chain, inverse = problem.get_problem_data(cp.HIGHS)
    dims = data[cp.settings.DIMS]
    a = data[cp.settings.A].tocsc()
    payload = {
        "c": np.asarray(data[cp.settings.C], dtype=float), "indptr": a.indptr, "indices": a.indices,
        "values": a.data, "shape": a.shape, "b": np.asarray(data[cp.settings.B], dtype=float),
        "n_eq": int(dims.zero), "n_leq": int(dims.nonneg),
        "lower": data[cp.settings.LOWER_BOUNDS], "upper": data[cp.settings.UPPER_BOUNDS],
        "integer": sorted(set(data[cp.settings.INT_IDX]) | set(data[cp.settings.BOOL_IDX])),
        "boolean": list(data[cp.settings.BOOL_IDX]), "options": dict(options),
        # the deadline on the wall clock, which the child shares: its own start-up (about a second) is
        # taken from HiGHS's time, not added to it
        "deadline_epoch": time.time() + (deadline - time.perf_counter()),
    }
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(payload, send), name="highs-branch-and-bound", daemon=True)
    started = time.perf_counter()
    child.start()
    send.close()
    best, final = None, None
    try:
        while final is None:
            if receive.poll(_POLL_SECONDS):
                try:
                    message = receive.recv()
                except EOFError:  # the child ended without a word (killed, out of memory)
                    break
                if message["kind"] == "plan":
                    best = message
                else:
                    final = message
            elif time.perf_counter() > deadline + GRACE_SECONDS or not child.is_alive():
                break
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    problem.unpack_results(_results(final, best, payload, time.perf_counter() - started), chain, inverse)


def _results(final: dict | None, best: dict | None, payload: dict, seconds: float) -> dict:
    """CVXPY's HiGHS results dict from the child's last words: its final report, else its last plan."""
    if final is not None:
        info = SimpleNamespace(**final["info"])
        return {"solution": SimpleNamespace(col_value=final["x"]), "info": info,
                "model_status": final["status"], "run_time": final["run_time"]}
    base = dict(ipm_iteration_count=0, crossover_iteration_count=0, pdlp_iteration_count=0,
                qp_iteration_count=0, simplex_iteration_count=0)
    if best is None:  # stopped before any plan
        info = SimpleNamespace(**base, primal_solution_status=0, mip_gap=np.inf, mip_dual_bound=-np.inf,
                               objective_function_value=np.nan)
        # as HiGHS reports it: values of the right size, marked as no solution (primal_solution_status 0)
        return {"solution": SimpleNamespace(col_value=np.zeros(payload["shape"][1])), "info": info,
                "model_status": "kTimeLimit",
                "run_time": seconds}
    bound = best["bound"]
    gap = relative_gap(best["objective"], bound) if np.isfinite(bound) else np.inf
    info = SimpleNamespace(**base, primal_solution_status=2, mip_gap=gap, mip_dual_bound=bound,
                           objective_function_value=best["objective"])
    return {"solution": SimpleNamespace(col_value=best["x"]), "info": info, "model_status": "kTimeLimit",
            "run_time": seconds}


def _child(payload: dict, send) -> None:
    """In the child: HiGHS's model from CVXPY's data (as cvxpy's conic HiGHS interface builds it), solved;
    every improving plan and the final report sent to the parent."""
    import highspy as hp

    solver = hp.Highs()
    solver.setOptionValue("output_flag", False)
    inf = solver.inf
    c, n_eq, n_leq = payload["c"], payload["n_eq"], payload["n_leq"]
    model = hp.HighsModel()
    lp = model.lp_
    lp.num_row_, lp.num_col_ = payload["shape"]
    lp.offset_ = 0
    lp.col_cost_ = c
    lp.row_upper_ = payload["b"]
    lp.row_lower_ = np.concatenate([payload["b"][:n_eq], np.full(n_leq, -inf)])
    lp.a_matrix_.format_ = hp.MatrixFormat.kColwise
    lp.a_matrix_.start_ = payload["indptr"]
    lp.a_matrix_.index_ = payload["indices"]
    lp.a_matrix_.value_ = payload["values"]
    lower = np.full(lp.num_col_, -inf) if payload["lower"] is None else np.array(payload["lower"], dtype=float)
    upper = np.full(lp.num_col_, inf) if payload["upper"] is None else np.array(payload["upper"], dtype=float)
    if payload["boolean"]:
        booleans = np.array(payload["boolean"], dtype=int)
        lower[booleans] = np.maximum(lower[booleans], 0)
        upper[booleans] = np.minimum(upper[booleans], 1)
    if payload["integer"]:
        integrality = [hp.HighsVarType.kContinuous] * lp.num_col_
        for index in payload["integer"]:
            integrality[index] = hp.HighsVarType.kInteger
        lp.integrality_ = integrality
    lp.col_lower_, lp.col_upper_ = lower, upper
    for name, value in payload["options"].items():
        solver.setOptionValue(name, value)
    solver.setOptionValue("time_limit", max(0.1, payload["deadline_epoch"] - time.time()))
    solver.passModel(model)

    def improving(event) -> None:
        x = np.array(event.data_out.mip_solution, dtype=float)
        if x.size == lp.num_col_:  # a plan of the model as passed (not of HiGHS's presolved one)
            send.send({"kind": "plan", "x": x, "objective": float(c @ x),
                       "bound": float(event.data_out.mip_dual_bound)})

    solver.cbMipImprovingSolution += improving
    solver.run()
    info = solver.getInfo()
    fields = ["primal_solution_status", "mip_gap", "mip_dual_bound", "objective_function_value",
              "ipm_iteration_count", "crossover_iteration_count", "pdlp_iteration_count", "qp_iteration_count",
              "simplex_iteration_count"]
    send.send({"kind": "final", "status": solver.getModelStatus().name, "run_time": solver.getRunTime(),
               "x": np.array(solver.getSolution().col_value, dtype=float),
               "info": {name: getattr(info, name) for name in fields}})
    send.close()
