"""`sop-pipeline plan --strategy all --json` on built problems, each against its optimum computed apart from the
code under test (tests/support/supply_reference.py, a dense scipy MILP), and level/chase against hand arithmetic:
a closed month with subcontracting, no backlog allowed, bounds on the ending crew, an initial backlog with an
ending stock target, a shortfall cheaper than holding, whole workers within bounds."""

from __future__ import annotations

import json

import pytest
import yaml

from sop_pipeline.cli import main
from sop_pipeline.config.problem import parse_problem
from tests.support.planning_cases import problem_dict
from tests.support.supply_reference import reference_optimum

COSTS = {"regular_wage_per_hour": 10, "overtime_wage_per_hour": 15, "hire_per_worker": 200,
         "layoff_per_worker": 300, "holding_per_unit_period": 2, "backlog_per_unit_period": 4,
         "material_per_unit": 5, "subcontract_per_unit": 40}
LEVERS = {"max_overtime_hours_per_worker": 10, "max_subcontract_units": 30}


def _case(demand, working_days=10, workforce=None, production=None, inventory=None, costs=None):
    return problem_dict(demand, working_days, workforce={"initial": 10, **(workforce or {})},
                        production={**LEVERS, **(production or {})}, inventory=inventory or {},
                        costs={**COSTS, **(costs or {})})


CASES = {
    "closed month, subcontracting": _case([50, 80, 60, 70], working_days=[10, 0, 10, 10]),
    "closed month, whole workers": _case([50, 80, 60, 70], working_days=[10, 0, 10, 10], workforce={"integer": True}),
    "closed month with safety stock": _case([50, 80, 60, 70], working_days=[10, 10, 0, 10],
                                            inventory={"safety_stock": [10, 30, 10, 10]},
                                            costs={"safety_stock_shortfall_per_unit": 25}),
    "no backlog": _case([120, 60, 150, 90], workforce={"max": 12}, inventory={"allow_backlog": False, "initial": 20}),
    "no backlog, whole workers, no idle": _case([120, 60, 150, 90], workforce={"max": 14, "integer": True},
                                                production={"allow_idle": False},
                                                inventory={"allow_backlog": False, "initial": 20}),
    "ending crew fixed": _case([100, 100, 300], workforce={"ending_min": 12, "ending_max": 12}),
    "ending crew bounds, whole": _case([100, 100, 300], workforce={"ending_min": 12, "ending_max": 15, "integer": True},
                                       inventory={"ending_min": 20}),
    "initial backlog, ending stock": _case([80, 90, 100, 110], inventory={"initial_backlog": 30, "ending_min": 25}),
    "shortfall cheaper than holding": _case([80, 120, 100, 90], inventory={"safety_stock": [40] * 4, "initial": 10},
                                            costs={"safety_stock_shortfall_per_unit": 1, "holding_per_unit_period": 3}),
    "whole workers within bounds": _case([90, 150, 40, 130, 100, 60], workforce={"min": 8, "max": 13, "integer": True},
                                         inventory={"safety_stock": [10] * 6, "initial": 15}),
}


def _plan_json(tmp_path, data, capfd) -> dict:
    path = tmp_path / "problem.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    capfd.readouterr()
    assert main(["plan", "--problem", str(path), "--strategy", "all", "--json"]) == 0
    return json.loads(capfd.readouterr().out)


@pytest.mark.parametrize("name", list(CASES))
def test_optimal_is_the_reference_optimum(name, tmp_path, capfd):
    data = CASES[name]
    body = _plan_json(tmp_path, data, capfd)
    optimal = body["optimal"]
    expected = reference_optimum([parse_problem(data, source=name)])
    assert optimal["cost_with_safety_stock_penalty"] == pytest.approx(expected, rel=1e-6)
    assert optimal["solver_objective"] == pytest.approx(optimal["cost_with_safety_stock_penalty"], rel=1e-6)
    for strategy in ("level", "chase"):
        if "cost_with_safety_stock_penalty" in body[strategy]:
            assert optimal["cost_with_safety_stock_penalty"] <= body[strategy]["cost_with_safety_stock_penalty"] + 1e-6
        else:
            assert body[strategy]["status"] == "infeasible" and body[strategy]["reason"]
    days = [p["working_days"] for p in data["periods"]]
    wf = data["workforce"]
    for strategy, result in body.items():
        if "periods" not in result:
            continue
        for period, day in zip(result["periods"], days):
            if day == 0:  # a closed month makes nothing in-house
                assert period["regular_units"] == 0 and period["overtime_units"] == 0, (strategy, period)
            if not data["inventory"].get("allow_backlog", True):
                assert period["backlog"] == 0, (strategy, period)
            if wf.get("integer"):
                assert period["workforce"] == round(period["workforce"]), (strategy, period)
        assert wf.get("ending_min", 0) - 1e-9 <= result["ending_workforce"] <= wf.get("ending_max", 1e18) + 1e-9


def test_level_and_chase_by_hand(tmp_path, capfd):
    """Initial backlog 30, ending stock 25, 10 units a worker a month. Level: the most of (cumulative demand +
    backlog + floor) / cumulative capacity is 110/10 = 11 workers (hire 1), made as late as capacity allows:
    110, 105, 110, 110, so stock 0, 15, 25, 25. Chase: 11, 9, 10, 13.5 workers."""
    body = _plan_json(tmp_path, CASES["initial backlog, ending stock"], capfd)
    wages = 80 * 10  # 80 h a worker a month at 10
    level = 200 + 4 * 11 * wages + 435 * 5 + (0 + 15 + 25 + 25) * 2
    chase = (200 + 600 + 200 + 3.5 * 200) + (11 + 9 + 10 + 13.5) * wages + 435 * 5 + 25 * 2
    assert body["level"]["total_cost"] == pytest.approx(level)
    assert body["chase"]["total_cost"] == pytest.approx(chase)
    assert [p["workforce"] for p in body["chase"]["periods"]] == pytest.approx([11, 9, 10, 13.5])
