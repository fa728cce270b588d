"""Impossible plans are explained: which period, which limit, by how much."""

from __future__ import annotations

import pytest

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.supply import plan, plan_families
from tests.support.planning_cases import problem

# At most 10 workers, 10 units each a period: 100 units a period, nothing else.
CAPPED = dict(workforce={"initial": 0, "max": 10})


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(PlanningError) as info:
        fn(*args, **kwargs)
    return info.value.message


def test_demand_beyond_every_lever_without_backlog():
    """By P2 at most 200 can be made, 600 are due: 400 units short."""
    message = _message(plan, problem([100, 500], **CAPPED, inventory={"allow_backlog": False}), "optimal")
    assert "Demand in P2 exceeds the most that regular time, overtime and subcontracting can make" in message
    assert "by 400 units while backlog is not allowed" in message
    assert "workforce.max = 10 workers" in message


def test_ending_min_unreachable():
    message = _message(plan, problem([100, 100], **CAPPED, inventory={"ending_min": 50}), "optimal")
    assert "By the end of P2" in message and "falls short by 50 units" in message
    assert "inventory.ending_min" in message


def test_overtime_and_subcontracting_count_towards_the_limit():
    ok = problem([150, 100], **CAPPED, production={"max_overtime_hours_per_worker": 40,
                                                   "max_subcontract_units": 0},
                 inventory={"allow_backlog": False})  # 100 regular + 10 x 40 / 8 = 50 overtime units
    assert plan(ok, "optimal").periods["overtime_units"].iloc[0] == pytest.approx(50)
    short = problem([151, 100], **CAPPED, production={"max_overtime_hours_per_worker": 40},
                    inventory={"allow_backlog": False})
    assert "by 1 units" in _message(plan, short, "optimal")


@pytest.mark.parametrize("strategy, workers, period", [("level", "12.50", "P1"), ("chase", "15", "P2")])
def test_level_and_chase_capped_by_workforce_max(strategy, workers, period):
    """Level needs (100+150)/20 = 12.5 workers throughout; chase needs 150/10 = 15 in P2."""
    message = _message(plan, problem([100, 150], **CAPPED), strategy)
    assert f"A {strategy} plan is impossible" in message
    assert f"needs {workers} workers" in message and "workforce.max is 10" in message


def test_level_without_working_days():
    message = _message(plan, problem([100, 0], working_days=[0, 10], workforce={"initial": 0}), "level")
    assert "no working days" in message


def _one_period(sub=0):
    return problem([100], working_days=1, workforce={"initial": 1, "min": 0, "hours_per_day": 100},
                   production={"labor_hours_per_unit": 1, "max_subcontract_units": sub})


def test_shared_capacity_too_small():
    families = {"A": _one_period(), "B": _one_period()}
    message = _message(plan_families, families, "optimal", shared_capacity_hours=150)
    assert "shared capacity is too small by P1" in message
    assert "200 labour hours" in message and "50 hours short" in message


def test_shared_capacity_against_forced_hours():
    forced = problem([0], working_days=1, workforce={"initial": 5, "min": 5, "hours_per_day": 10},
                     production={"allow_idle": False})
    message = _message(plan_families, {"A": forced}, "optimal", shared_capacity_hours=40)
    assert "too small in P1" in message and "50 hours" in message


def test_level_plans_over_shared_capacity():
    families = {"A": _one_period(), "B": _one_period()}
    message = _message(plan_families, families, "level", shared_capacity_hours=150)
    assert "need 200 plant hours in P1" in message
