"""The optimal plan is the optimum: checked against an independent formulation (tests/support/supply_reference.py).

Each problem is small and built so that one feature decides the plan: phantom stock (inventory and
backlog held together to look like safety stock), a closed month, a binding work centre, whole
workers, no backlog allowed. The model's objective must equal the plan's reported cost (cash + the
safety-stock penalty recomputed from net stock) and the reference optimum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.config.problem import load_problem
from sop_pipeline.supply import model
from sop_pipeline.supply.strategies import plan, plan_families
from tests.support.planning_cases import problem
from tests.support.supply_reference import reference_optimum

RED_TOMATO = Path(__file__).resolve().parents[2] / "assets" / "examples" / "red_tomato.yaml"
COSTS = {"regular_wage_per_hour": 10, "overtime_wage_per_hour": 15, "hire_per_worker": 200,
         "layoff_per_worker": 300, "holding_per_unit_period": 2, "backlog_per_unit_period": 4,
         "material_per_unit": 5, "subcontract_per_unit": 200, "safety_stock_shortfall_per_unit": 50}


def _reported(result) -> float:
    return result.total_cost + result.safety_stock_penalty


def _objective(result) -> float:
    return result.solver["objective"]


def test_phantom_stock_cannot_pay():
    """Demand the crew cannot meet in P2 forces a backlog there; with safety stock in P2 a model that
    measured the shortfall against gross inventory would hold inventory AND backlog in P2 (cheap
    'phantom' buffer). The optimum, computed independently, holds no such stock."""
    prob = problem([100, 250, 50], workforce={"initial": 10, "min": 10, "max": 10},
                   inventory={"initial": 100, "safety_stock": [0, 50, 0]}, costs=COSTS)
    result = plan(prob, "optimal")
    frame = result.periods
    assert (np.minimum(frame["ending_inventory"], frame["backlog"]) == 0).all()
    expected = reference_optimum([prob])
    assert _reported(result) == pytest.approx(expected, rel=1e-6)
    assert _objective(result) == pytest.approx(_reported(result), rel=1e-6)
    # P2 is short by its safety stock plus its backlog: net stock against the buffer.
    assert frame["backlog"].iloc[1] == pytest.approx(50)
    assert frame["safety_stock_shortfall"].iloc[1] == pytest.approx(50 + 50)


def test_closed_month_makes_nothing_in_house():
    """P2 has no working days: no regular or overtime units there, in any strategy; chase, which makes
    each month's demand in that month, is impossible and says why."""
    prob = problem([50, 80, 50], working_days=[10, 0, 10], workforce={"initial": 10},
                   production={"max_overtime_hours_per_worker": 10, "max_subcontract_units": 20}, costs=COSTS)
    with pytest.raises(PlanningError, match="no working days"):
        plan(prob, "chase")
    plans = {s: plan(prob, s) for s in ("level", "optimal")}
    for strategy, result in plans.items():
        row = result.periods.iloc[1]
        assert row["regular_units"] == 0 and row["overtime_units"] == 0, strategy
    assert _reported(plans["optimal"]) == pytest.approx(reference_optimum([prob]), rel=1e-6)
    assert _objective(plans["optimal"]) == pytest.approx(_reported(plans["optimal"]), rel=1e-6)


def test_no_backlog_allowed():
    prob = problem([60, 150, 60], workforce={"initial": 8},
                   production={"max_overtime_hours_per_worker": 8, "max_subcontract_units": 30},
                   inventory={"allow_backlog": False, "safety_stock": [10, 10, 10]}, costs=COSTS)
    result = plan(prob, "optimal")
    assert (result.periods["backlog"] == 0).all()
    assert _reported(result) == pytest.approx(reference_optimum([prob]), rel=1e-6)
    assert _objective(result) == pytest.approx(_reported(result), rel=1e-6)


@pytest.mark.parametrize("integer", [False, True])
def test_whole_workers_with_safety_stock(integer):
    prob = problem([73, 128, 95, 160], workforce={"initial": 9, "integer": integer},
                   production={"max_overtime_hours_per_worker": 6, "max_subcontract_units": 15},
                   inventory={"initial": 20, "ending_min": 15, "safety_stock": [25, 40, 30, 35]}, costs=COSTS)
    result = plan(prob, "optimal")
    if integer:
        assert (result.periods["workforce"] % 1 == 0).all()
    assert _reported(result) == pytest.approx(reference_optimum([prob]), rel=1e-6)
    assert _objective(result) == pytest.approx(_reported(result), rel=1e-6)


@pytest.mark.parametrize("integer", [False, True])
def test_binding_work_centre(integer):
    """Two families share a work centre whose hours bind in P3."""
    a = problem([80, 90, 200], workforce={"initial": 10, "integer": integer},
                production={"max_overtime_hours_per_worker": 10, "max_subcontract_units": 40},
                inventory={"safety_stock": [10, 10, 10]}, costs=COSTS).model_copy(update={"name": "A"})
    b = problem([60, 120, 150], workforce={"initial": 8, "integer": integer},
                production={"max_overtime_hours_per_worker": 10, "max_subcontract_units": 40},
                inventory={"safety_stock": [5, 20, 5]}, costs=COSTS).model_copy(update={"name": "B"})
    hours = np.array([500.0, 500.0, 250.0])
    per_unit = np.array([1.5, 1.0])
    centres = model.ResourceLimits(names=["Press"], hours=hours.reshape(1, -1), per_unit=per_unit.reshape(1, -1))
    plans = plan_families({"A": a, "B": b}, "optimal", resources=centres)
    made = sum(per_unit[i] * (p.periods["regular_units"] + p.periods["overtime_units"]).to_numpy()
               for i, p in enumerate(plans.values()))
    assert (made <= hours + 1e-6).all()
    alone = sum(_reported(plan(p, "optimal")) for p in (a, b))
    reported = sum(_reported(p) for p in plans.values())
    assert reported == pytest.approx(reference_optimum([a, b], work_centres=[(hours, per_unit)]), rel=1e-6)
    assert next(iter(plans.values())).solver["objective"] == pytest.approx(reported, rel=1e-6)
    assert reported > alone + 1  # the centre binds: it costs more than the families' own optima


def test_shared_capacity():
    a = problem([80, 120, 90], workforce={"initial": 10}, production={"max_subcontract_units": 50},
                inventory={"safety_stock": [15, 15, 15]}, costs=COSTS).model_copy(update={"name": "A"})
    b = problem([70, 100, 130], workforce={"initial": 9}, production={"max_subcontract_units": 50},
                costs=COSTS).model_copy(update={"name": "B"})
    plans = plan_families({"A": a, "B": b}, "optimal", shared_capacity_hours=1500)
    reported = sum(_reported(p) for p in plans.values())
    assert reported == pytest.approx(reference_optimum([a, b], shared_capacity=1500), rel=1e-6)
    assert next(iter(plans.values())).solver["objective"] == pytest.approx(reported, rel=1e-6)


def test_red_tomato_with_safety_stock_beats_level():
    """A planner's case: Red Tomato with 200 units of safety stock a month and a shortfall cost of 40.
    The optimum (independent formulation) is at most the level plan's cash + penalty."""
    base = load_problem(RED_TOMATO)
    prob = base.model_copy(update={
        "inventory": base.inventory.model_copy(update={"safety_stock": [200.0] * 6}),
        "costs": base.costs.model_copy(update={"safety_stock_shortfall_per_unit": 40.0})})
    optimal, level = plan(prob, "optimal"), plan(prob, "level")
    expected = reference_optimum([prob])
    assert _reported(optimal) == pytest.approx(expected, rel=1e-6)
    assert _objective(optimal) == pytest.approx(_reported(optimal), rel=1e-6)
    assert _reported(optimal) <= _reported(level) + 1e-6


@pytest.mark.parametrize("integer, published", [(False, 422_275), (True, 422_660)])
def test_red_tomato_published_optimum_agrees_with_reference(integer, published):
    base = load_problem(RED_TOMATO)
    prob = base.model_copy(update={"workforce": base.workforce.model_copy(update={"integer": integer})})
    assert reference_optimum([prob]) == pytest.approx(published, abs=0.01)
    result = plan(prob, "optimal")
    assert result.total_cost == pytest.approx(published, abs=0.01)
    assert _objective(result) == pytest.approx(published, rel=1e-6)


def test_implausible_ending_stock_is_refused_naming_the_key():
    """A typo the settings accept: inventory.ending_min: 1e12 kept a solve busy for minutes; now refused at once."""
    from sop_pipeline.common.errors import SettingsError
    from sop_pipeline.config.problem import problem_from_settings

    params = {"workforce": {"initial": 5}, "production": {"labor_hours_per_unit": 1},
              "inventory": {"ending_min": 1e12}}
    periods = [{"name": "2027-01", "demand": 100.0, "working_days": 20}]
    with pytest.raises(SettingsError) as caught:
        problem_from_settings(params, periods, family="Cookware", overrides={})
    assert any("planning.defaults.inventory.ending_min" in line for line in caught.value.problems)
    with pytest.raises(SettingsError, match="problem"):
        problem([100, 100], inventory={"safety_stock": [10, 1e9]})
    problem([100, 100], inventory={"ending_min": 5000, "safety_stock": [150, 150]})  # large but plausible


def test_ending_workforce_bounds():
    """A planner's case: demand [1000, 1000, 3000] and 25 workers; chase ends with 75. With
    workforce.ending_max: 40 chase is impossible (and says why); the optimum keeps to 40 (reference)."""
    sections = dict(workforce={"initial": 25}, production={"labor_hours_per_unit": 2, "max_overtime_hours_per_worker": 8,
                                                             "max_subcontract_units": 2000}, costs=COSTS)
    free = problem([1000, 1000, 3000], **sections)
    assert plan(free, "chase").periods["workforce"].iloc[-1] == pytest.approx(75)
    bounded = problem([1000, 1000, 3000],
                      **{**sections, "workforce": {"initial": 25, "ending_max": 40}})
    with pytest.raises(PlanningError, match="ending_max"):
        plan(bounded, "chase")
    result = plan(bounded, "optimal")
    assert result.periods["workforce"].iloc[-1] <= 40 + 1e-6
    assert _reported(result) == pytest.approx(reference_optimum([bounded]), rel=1e-6)
    kept = problem([1000, 1000, 1000],
                   **{**sections, "workforce": {"initial": 25, "ending_min": 30}})
    for strategy in ("level", "chase", "optimal"):
        assert plan(kept, strategy).periods["workforce"].iloc[-1] >= 30 - 1e-6, strategy
    assert _reported(plan(kept, "optimal")) == pytest.approx(reference_optimum([kept]), rel=1e-6)
