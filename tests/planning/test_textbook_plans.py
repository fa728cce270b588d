"""Published textbook aggregate plans, reproduced to the dollar (continuous and whole workers)."""

from __future__ import annotations

import pytest

from sop_pipeline.config.problem import load_problem, parse_problem
from sop_pipeline.supply import plan
from tests.support.files import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "assets" / "examples" / "red_tomato.yaml"


def _with(problem, section: str, **values):
    return problem.model_copy(update={section: getattr(problem, section).model_copy(update=values)})


def test_red_tomato_optimal_lp():
    """Chopra & Meindl, Supply Chain Management: Strategy, Planning, and Operation, ch. 8
    ("Aggregate Planning in a Supply Chain"), Red Tomato Tools: the optimal aggregate plan by
    linear programming costs $422,275 over the six months (workforce cut from 80 to 64.6,
    1,983 units in stock at the end of January, a backlog in April)."""
    result = plan(load_problem(EXAMPLE), "optimal")
    assert result.total_cost == pytest.approx(422_275, abs=0.01)
    frame = result.periods
    assert frame["ending_inventory"].iloc[0] == pytest.approx(1983.33, abs=0.01)
    assert frame["backlog"].iloc[3] > 0
    assert frame["backlog"].iloc[-1] == 0 and frame["ending_inventory"].iloc[-1] >= 500 - 1e-6


def test_red_tomato_whole_workers():
    """Chopra & Meindl ch. 8, Red Tomato Tools with the workforce, hires and layoffs restricted to
    whole numbers: the published integer optimum costs $422,660 (64 workers after laying off 16)."""
    problem = _with(load_problem(EXAMPLE), "workforce", integer=True)
    result = plan(problem, "optimal")
    assert result.total_cost == pytest.approx(422_660, abs=0.01)
    assert (result.periods["workforce"] % 1 == 0).all()
    # Totals are the sums of the per-period columns, to the cent.
    assert sum(result.cost_breakdown.values()) == pytest.approx(result.periods["total_cost"].sum(), abs=0.005)


def _roofing(**workforce):
    """Heizer & Render, Operations Management, chapter "Aggregate Planning" (Examples 2-3): a roofing
    supplier, demand Jan-Jun 900, 700, 800, 1,200, 1,500, 1,100 over 22, 18, 21, 21, 22, 20 working
    days, 1.6 labour hours per unit, $10 per hour (8-hour days), $5 per unit-month to carry stock,
    $20 per unit subcontracted; no initial stock, no backorders."""
    return parse_problem({
        "periods": [{"name": m, "demand": d, "working_days": w} for m, d, w in zip(
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun"], [900, 700, 800, 1200, 1500, 1100], [22, 18, 21, 21, 22, 20])],
        "workforce": {"hours_per_day": 8, **workforce},
        "production": {"labor_hours_per_unit": 1.6, "max_overtime_hours_per_worker": 0, "max_subcontract_units": None},
        "inventory": {"initial": 0, "ending_min": 0, "allow_backlog": False},
        "costs": {"regular_wage_per_hour": 10, "holding_per_unit_period": 5, "subcontract_per_unit": 20},
    }, source="Heizer & Render roofing supplier")


@pytest.mark.parametrize("integer", [False, True])
def test_heizer_render_plan_1_constant_workforce(integer):
    """Heizer & Render, Plan 1: a constant workforce of 10 making 50 units a day (6,200 units over
    124 days), inventory absorbing the difference: carrying cost $9,250 (1,850 unit-months),
    regular-time labour $99,200, total $108,450. That is the level strategy of docs/contracts.md; 10 workers is
    whole, so the whole-worker plan is the same."""
    result = plan(_roofing(initial=10, integer=integer), "level")
    assert (result.periods["workforce"] == 10).all()
    assert result.cost_breakdown["holding_cost"] == pytest.approx(9_250)
    assert result.cost_breakdown["regular_labor_cost"] == pytest.approx(99_200)
    assert result.total_cost == pytest.approx(108_450)


def test_heizer_render_plan_2_subcontracting():
    """Heizer & Render, Plan 2: a constant workforce of 7.6 making 38 units a day (the lowest month's
    rate), the rest subcontracted: regular-time labour $75,392, subcontracting 1,488 units = $29,760,
    total $105,152. Here as the optimal plan with the workforce fixed and no idle time."""
    result = plan(_roofing(initial=7.6, min=7.6, max=7.6), "optimal")
    result_idle = plan(_with(_roofing(initial=7.6, min=7.6, max=7.6), "production", allow_idle=False), "optimal")
    for r in (result, result_idle):
        assert r.periods["subcontract_units"].sum() == pytest.approx(1_488)
        assert r.cost_breakdown["regular_labor_cost"] == pytest.approx(75_392)
        assert r.total_cost == pytest.approx(105_152)
