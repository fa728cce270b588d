"""An independent least-cost aggregate plan, written apart from sop_pipeline.supply.model (scipy.optimize.milp).

The same problem in another form: per family f and period t the variables are workforce W, hires H,
layoffs L, regular P, overtime O and subcontracted C units, and the NET stock N (free: negative is a
backlog); ending inventory I >= N, I >= 0 and backlog B >= -N, B >= 0 are its two sides, and the
safety-stock shortfall S >= safety_stock - N in months that have safety stock. Rows are written one
by one (dense loops, no vectorisation) so that a mistake in the model's matrix arithmetic shows.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

NAMES = ("W", "H", "L", "P", "O", "C", "N", "I", "B", "S")


def reference_optimum(problems, work_centres=None, shared_capacity=None) -> float:
    """The optimal cash + safety-stock penalty of `problems` (a list of Problem), solved together.

    `work_centres`: list of (hours per period (T,), hours per unit by family (F,)); `shared_capacity`:
    plant hours per period (a number)."""
    n_f, n_t = len(problems), len(problems[0].periods)
    per = len(NAMES) * n_t
    n = n_f * per

    def ix(f, name, t):
        return f * per + NAMES.index(name) * n_t + t

    cost = np.zeros(n)
    lower, upper = np.zeros(n), np.full(n, np.inf)
    integrality = np.zeros(n)
    rows, lo, hi = [], [], []

    def row(coefs: dict, low: float, high: float):
        r = np.zeros(n)
        for k, v in coefs.items():
            r[k] += v
        rows.append(r)
        lo.append(low)
        hi.append(high)

    for f, p in enumerate(problems):
        c, wf, prod, inv = p.costs, p.workforce, p.production, p.inventory
        hours = p.hours_per_worker
        ss = p.safety_stock
        for t in range(n_t):
            lower[ix(f, "N", t)] = -np.inf
            cost[ix(f, "W", t)] = c.regular_wage_per_hour * hours[t]
            cost[ix(f, "H", t)] = c.hire_per_worker
            cost[ix(f, "L", t)] = c.layoff_per_worker
            cost[ix(f, "P", t)] = c.material_per_unit
            cost[ix(f, "O", t)] = c.material_per_unit + c.overtime_wage_per_hour * prod.labor_hours_per_unit
            cost[ix(f, "C", t)] = c.subcontract_per_unit
            cost[ix(f, "I", t)] = c.holding_per_unit_period
            cost[ix(f, "B", t)] = c.backlog_per_unit_period
            cost[ix(f, "S", t)] = c.shortfall_penalty
            if wf.integer:
                integrality[ix(f, "W", t)] = 1
            lower[ix(f, "W", t)] = wf.min or 0.0
            if wf.max is not None:
                upper[ix(f, "W", t)] = wf.max
            # stock: N_t = N_{t-1} + P + O + C - D
            coefs = {ix(f, "N", t): 1.0, ix(f, "P", t): -1.0, ix(f, "O", t): -1.0, ix(f, "C", t): -1.0}
            initial = inv.initial - inv.initial_backlog
            if t:
                coefs[ix(f, "N", t - 1)] = -1.0
                row(coefs, -p.demand[t], -p.demand[t])
            else:
                row(coefs, initial - p.demand[t], initial - p.demand[t])
            # workforce: W_t = W_{t-1} + H - L
            coefs = {ix(f, "W", t): 1.0, ix(f, "H", t): -1.0, ix(f, "L", t): 1.0}
            if t:
                coefs[ix(f, "W", t - 1)] = -1.0
                row(coefs, 0.0, 0.0)
            else:
                row(coefs, wf.initial, wf.initial)
            row({ix(f, "I", t): 1.0, ix(f, "N", t): -1.0}, 0.0, np.inf)   # I >= N
            row({ix(f, "B", t): 1.0, ix(f, "N", t): 1.0}, 0.0, np.inf)    # B >= -N
            if ss[t] > 0:
                row({ix(f, "S", t): 1.0, ix(f, "N", t): 1.0}, ss[t], np.inf)
            else:
                upper[ix(f, "S", t)] = 0.0
            # regular hours: lhpu * P <= hours * W  (== without idle time)
            r = {ix(f, "P", t): prod.labor_hours_per_unit, ix(f, "W", t): -hours[t]}
            row(r, -np.inf if prod.allow_idle else 0.0, 0.0)
            if hours[t] <= 0:  # a closed month: nothing made in-house
                upper[ix(f, "O", t)] = 0.0
            if prod.max_overtime_hours_per_worker is not None:
                row({ix(f, "O", t): prod.labor_hours_per_unit, ix(f, "W", t): -prod.max_overtime_hours_per_worker},
                    -np.inf, 0.0)
            if prod.max_subcontract_units is not None:
                upper[ix(f, "C", t)] = prod.max_subcontract_units
            if not inv.allow_backlog:
                row({ix(f, "N", t): 1.0}, 0.0, np.inf)
        last = n_t - 1
        if wf.ending_min is not None:
            lower[ix(f, "W", last)] = max(lower[ix(f, "W", last)], wf.ending_min)
        if wf.ending_max is not None:
            upper[ix(f, "W", last)] = min(upper[ix(f, "W", last)], wf.ending_max)
        row({ix(f, "N", last): 1.0}, inv.ending_min, np.inf)  # no backlog at the end, ending stock kept
    for t in range(n_t):
        for hours, per_unit in work_centres or []:
            coefs = {}
            for f in range(n_f):
                coefs[ix(f, "P", t)] = per_unit[f]
                coefs[ix(f, "O", t)] = per_unit[f]
            row(coefs, -np.inf, float(hours[t]))
        if shared_capacity is not None:
            coefs = {}
            for f, p in enumerate(problems):
                coefs[ix(f, "P", t)] = p.production.labor_hours_per_unit
                coefs[ix(f, "O", t)] = p.production.labor_hours_per_unit
            row(coefs, -np.inf, float(shared_capacity))
    result = milp(cost, constraints=LinearConstraint(np.array(rows), lo, hi), bounds=Bounds(lower, upper),
                  integrality=integrality, options={"mip_rel_gap": 1e-9})
    assert result.success, result.message
    return float(result.fun)
