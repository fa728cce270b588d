"""Optimal aggregate plans for many families at once, sharing plant capacity: build vs solve time.

    python benchmarks/planning_bench.py                 # 500 families x 24 months (the target)
    python benchmarks/planning_bench.py --families 50   # a quick check
    python benchmarks/planning_bench.py --families 300 --whole-workers   # a MILP on one shared work centre

Prints one table: the model's size, the time to build the CVXPY expressions (ours), to compile
them into HiGHS's matrices (CVXPY, `problem.compilation_time`), to solve (HiGHS's own
`solver_stats.solve_time`), the total, and the ratio of model-making to solving. The model is
vectorised (one matrix variable per decision, families x periods), so making it should take no
longer than solving it. Families are synthetic (seeded): seasonal demand, varied costs and limits.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from sop_pipeline.common.solver_limits import SolverLimits
from sop_pipeline.config.problem import parse_problem
from sop_pipeline.supply import model


def synthetic_families(n_families: int, n_periods: int, seed: int = 7, integer: bool = False):
    rng = np.random.default_rng(seed)
    months = [f"{2027 + m // 12}-{m % 12 + 1:02d}" for m in range(n_periods)]
    days = rng.integers(19, 23, n_periods)
    problems = []
    for f in range(n_families):
        base = rng.uniform(200, 5000)
        season = 1 + 0.4 * np.sin(2 * np.pi * (np.arange(n_periods) / 12 + rng.uniform()))
        demand = np.round(base * season * rng.uniform(0.85, 1.15, n_periods))
        lhpu = rng.uniform(0.5, 6)
        problems.append(parse_problem({
            "name": f"family-{f:04d}",
            "periods": [{"name": m, "demand": float(d), "working_days": int(w)} for m, d, w in zip(months, demand, days)],
            "workforce": {"initial": float(np.ceil(base * lhpu / 160)), "hours_per_day": 8, "integer": integer},
            "production": {"labor_hours_per_unit": float(lhpu), "max_overtime_hours_per_worker": 20,
                           "max_subcontract_units": float(np.round(base * 0.3))},
            "inventory": {"initial": float(np.round(base * 0.5)), "ending_min": float(np.round(base * 0.3)),
                          "safety_stock": list(np.round(base * 0.2 * season))},
            "costs": {"regular_wage_per_hour": float(rng.uniform(15, 30)), "overtime_wage_per_hour": 40,
                      "hire_per_worker": float(rng.uniform(500, 3000)), "layoff_per_worker": float(rng.uniform(1000, 5000)),
                      "holding_per_unit_period": float(rng.uniform(0.5, 5)), "backlog_per_unit_period": 20,
                      "material_per_unit": float(rng.uniform(5, 50)), "subcontract_per_unit": float(rng.uniform(60, 200))},
        }, source="benchmark"))
    # The plant can make 95% of the demand's labour hours in-house in every month.
    need = sum(p.demand * p.production.labor_hours_per_unit for p in problems)
    return problems, 0.95 * need.mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=500)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--whole-workers", action="store_true",
                        help="whole workers (a MILP) sharing one work centre instead of plant capacity")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds (planning.solver.time_limit_seconds)")
    parser.add_argument("--mip-gap", type=float, default=1e-4, help="relative (planning.solver.mip_gap)")
    args = parser.parse_args()

    problems, capacity = synthetic_families(args.families, args.periods, integer=args.whole_workers)
    data = model.stack(problems)
    limits = SolverLimits(args.time_limit, args.mip_gap)
    if args.whole_workers:  # one work centre all families share, 95% of their labour hours
        per_unit = np.array([[p.production.labor_hours_per_unit for p in problems]])
        centre = model.ResourceLimits(["Assembly"], np.full((1, args.periods), capacity), per_unit)
        solution = model.solve(data, limits=limits, resources=centre)
    else:
        solution = model.solve(data, model.capacity_array(capacity, args.periods), limits=limits)
    size = solution.problem.size_metrics
    build = solution.build_seconds
    compile_ = solution.compile_seconds or 0.0
    solve = solution.solve_seconds or float("nan")

    kind = "whole workers, one shared work centre" if args.whole_workers else "shared capacity"
    table = Table(title=f"Optimal plans: {args.families} families x {args.periods} months, {kind}; "
                        f"limits {args.time_limit:g} s, gap {args.mip_gap:g}; load {os.getloadavg()[0]:.1f}")
    for col in ["variables", "constraints", "status", "plan from", "gap reached", "build s", "compile s", "solver s", "total s",
                "(build+compile)/solver"]:
        table.add_column(col, justify="right")
    table.add_row(f"{size.num_scalar_variables:,}", f"{size.num_scalar_eq_constr + size.num_scalar_leq_constr:,}",
                  solution.status, "rounded LP" if solution.rounded else "solver",
                  "n/a" if solution.mip_gap is None else f"{solution.mip_gap:.1e}",
                  f"{build:.2f}", f"{compile_:.2f}", f"{solve:.2f}",
                  f"{build + compile_ + solve:.2f}", f"{(build + compile_) / solve:.2f}")
    Console(width=140).print(table)
    print(f"objective {solution.objective:,.2f}" if solution.objective is not None else "no plan found")


def _cpu_seconds() -> float:
    """This process's CPU time and its children's (large models' branch and bound runs in a child)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    start, cpu = time.perf_counter(), _cpu_seconds()
    main()
    print(f"wall time {time.perf_counter() - start:.1f} s, CPU {_cpu_seconds() - cpu:.1f} s (with child processes), "
          f"load {os.getloadavg()[0]:.1f}")
