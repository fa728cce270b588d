"""A plan is found even when branch and bound finds none in its time (many whole-worker families on
one work centre): the LP relaxation's crews rounded, the rest re-optimised, the gap reported against
a true lower bound. Checked against the independent formulation (tests/support/supply_reference.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sop_pipeline.common.solver_limits import SolverLimits
from sop_pipeline.supply import model
from sop_pipeline.supply.result import plan_result
from tests.support.planning_cases import problem
from tests.support.supply_reference import reference_optimum

COSTS = {"regular_wage_per_hour": 10, "overtime_wage_per_hour": 15, "hire_per_worker": 200,
         "layoff_per_worker": 300, "holding_per_unit_period": 2, "backlog_per_unit_period": 4,
         "material_per_unit": 5, "subcontract_per_unit": 60, "safety_stock_shortfall_per_unit": 50}


def _families(n: int = 5, seed: int = 11):
    rng = np.random.default_rng(seed)
    probs = []
    for f in range(n):
        demand = [float(d) for d in np.round(rng.uniform(40, 160, 4))]
        probs.append(problem(demand, workforce={"initial": float(rng.integers(5, 12)), "integer": True},
                             production={"max_overtime_hours_per_worker": 10, "max_subcontract_units": 30},
                             inventory={"safety_stock": [5.0] * 4}, costs=COSTS)
                     .model_copy(update={"name": f"F{f}"}))
    need = sum(np.array(p.demand) * p.production.labor_hours_per_unit for p in probs)
    hours = 0.85 * need                        # the centre binds: 85% of the demand's hours
    per_unit = np.array([p.production.labor_hours_per_unit for p in probs])
    return probs, hours, per_unit


def _plans(probs, solution):
    v = solution.values
    return [plan_result(p, "optimal", v["workforce"][i], v["regular_units"][i], v["overtime_units"][i],
                        v["subcontract_units"][i]) for i, p in enumerate(probs)]


def test_rounded_plan_is_a_feasible_plan_with_a_true_bound():
    probs, hours, per_unit = _families()
    centre = model.ResourceLimits(["Press"], hours.reshape(1, -1), per_unit.reshape(1, -1))
    rounded = model._rounded_plan(model.stack(probs), None, centre, time.perf_counter() + 30.0, 0.0)
    assert rounded is not None and rounded.rounded
    optimum = reference_optimum(probs, work_centres=[(hours, per_unit)])
    plans = _plans(probs, rounded)
    reported = sum(p.total_cost + p.safety_stock_penalty for p in plans)
    assert rounded.objective == pytest.approx(reported, rel=1e-6)   # the objective is the reported cost
    assert reported >= optimum * (1 - 1e-9)                         # a plan of the MILP: no cheaper than its optimum
    assert rounded.bound <= optimum * (1 + 1e-9)                    # the relaxation bounds the optimum from below
    for p in plans:
        assert (p.periods["workforce"] == np.round(p.periods["workforce"])).all()
    made = sum(per_unit[i] * (p.periods["regular_units"] + p.periods["overtime_units"]).to_numpy()
               for i, p in enumerate(plans))
    assert (made <= hours + 1e-6).all()


def test_solve_publishes_the_rounded_plan_when_branch_and_bound_finds_none(monkeypatch):
    """Branch and bound is made to find nothing (as on 300 families within a minute): the solve still
    returns a plan, marked rounded, whose reported gap is at least its true distance from the optimum."""
    probs, hours, per_unit = _families()
    centre = model.ResourceLimits(["Press"], hours.reshape(1, -1), per_unit.reshape(1, -1))
    real_run = model._run
    monkeypatch.setattr(model, "_run", lambda prob, options: None if prob.is_mixed_integer() else real_run(prob, options))
    solution = model.solve(model.stack(probs), resources=centre, limits=SolverLimits(30.0, 1e-4))
    assert solution.status == "time_limit" and solution.rounded
    optimum = reference_optimum(probs, work_centres=[(hours, per_unit)])
    true_gap = (solution.objective - optimum) / solution.objective
    assert solution.mip_gap >= true_gap - 1e-9
    assert solution.mip_gap < 0.2  # and it is a plan worth reading, not a placeholder


def test_branch_and_bound_plan_kept_when_cheaper():
    """With time to search, the optimum (not the rounding) is returned, its gap within the MIP gap."""
    probs, hours, per_unit = _families()
    centre = model.ResourceLimits(["Press"], hours.reshape(1, -1), per_unit.reshape(1, -1))
    solution = model.solve(model.stack(probs), resources=centre, limits=SolverLimits(30.0, 1e-6))
    assert solution.status == "optimal" and not solution.rounded
    assert solution.objective == pytest.approx(reference_optimum(probs, work_centres=[(hours, per_unit)]), rel=1e-5)
