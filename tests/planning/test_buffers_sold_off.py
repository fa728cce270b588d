"""The console names families whose optimal plan ends below safety stock by their own settings: the
shortfall cost per unit below the cost of making a unit, so keeping the last month's buffer (made and
never sold within the horizon) costs more than the shortfall. Worked by hand below."""

from __future__ import annotations

import pytest

from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply import diagnose
from sop_pipeline.supply.solve import solve_strategies
from tests.support.planning_cases import problem

# 8 labour hours a unit at 10/h plus 5 of material: 85 to make a unit (no subcontracting). Hiring and
# layoffs are free, so the crew follows demand and every unit made costs its 85.
COSTS = {"regular_wage_per_hour": 10, "material_per_unit": 5, "holding_per_unit_period": 1,
         "backlog_per_unit_period": 5}


def _family(name: str, shortfall: float):
    return problem([100.0, 100.0, 100.0], workforce={"initial": 10},
                   inventory={"initial": 50, "safety_stock": [50.0, 50.0, 50.0]},
                   costs={**COSTS, "safety_stock_shortfall_per_unit": shortfall}).model_copy(update={"name": name})


def test_cheap_shortfall_is_named_and_a_dear_one_is_not():
    """Cheap (20 a unit short): the last month's 50 buffer units would cost 50 x 85 to make and save
    50 x 20, so the optimal plan makes 50 fewer and ends 50 below. Dear (200): it keeps them."""
    problems = {"Cheap": _family("Cheap", 20.0), "Dear": _family("Dear", 200.0)}
    assert diagnose.unit_making_cost(problems["Cheap"]) == pytest.approx(85.0)
    lines: list[str] = []
    plans = solve_strategies(problems, PlanningSettings(strategy="optimal"), log=lines.append)
    last = {name: plan.periods.iloc[-1] for name, plan in plans.results["optimal"].items()}
    assert last["Cheap"]["ending_inventory"] == pytest.approx(0.0, abs=1e-6)
    assert last["Dear"]["ending_inventory"] == pytest.approx(50.0)
    found = diagnose.buffers_sold_off(problems, plans.results["optimal"])
    assert list(found) == ["Cheap"]
    assert found["Cheap"] == pytest.approx((50.0, 20.0, 85.0))
    named = [line for line in lines if "below safety stock by their settings" in line]
    assert len(named) == 1 and "Cheap (50 units below; shortfall cost 20/unit < 85.00" in named[0]
    assert "Dear" not in named[0]
