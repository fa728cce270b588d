"""Malformed planning problems are reported field by field, all at once."""

from __future__ import annotations

import pytest
import yaml

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.config.problem import load_problem, merge_params, parse_problem, problem_from_settings
from tests.support.planning_cases import problem_dict


def _errors(data) -> str:
    with pytest.raises(SettingsError) as info:
        parse_problem(data, source="bad.yaml")
    return info.value.message


def test_defaults_documented():
    p = parse_problem(problem_dict([10]))
    assert p.costs.hire_per_worker == 0 and p.costs.shortfall_penalty == 0
    assert p.inventory.allow_backlog and p.production.allow_idle and p.workforce.max is None


def test_every_problem_listed_with_its_path():
    data = problem_dict([10, 20, -5])
    del data["workforce"]["initial"]
    data["periods"][0]["working_days"] = "twenty"
    data["costs"]["hire_per_worker"] = -300
    message = _errors(data)
    assert "4 problem(s)" in message
    assert "periods[2].demand: must be >= 0" in message
    assert "periods[0].working_days:" in message
    assert "workforce.initial: is required" in message
    assert "costs.hire_per_worker: must be >= 0" in message
    assert "bad.yaml" in message


def test_safety_stock_list_of_wrong_length():
    message = _errors(problem_dict([10, 20, 30], inventory={"safety_stock": [1, 2]}))
    assert "inventory.safety_stock: has 2 values but there are 3 periods" in message


def test_empty_periods_and_unknown_key():
    data = problem_dict([10], costs={"holding_per_unit": 2})
    data["periods"] = []
    message = _errors(data)
    assert "periods:" in message and "costs.holding_per_unit: is not a known key" in message


def test_min_above_max_and_fractional_initial_with_integer():
    message = _errors(problem_dict([10], workforce={"initial": 2.5, "min": 5, "max": 3, "integer": True}))
    assert "workforce: min (5) is larger than max (3)" in message


def test_not_a_mapping():
    assert "not a mapping" in _errors(["periods"])


def test_load_problem_yaml_errors(tmp_path):
    missing = tmp_path / "none.yaml"
    with pytest.raises(SettingsError, match="does not exist"):
        load_problem(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("periods:\n  - {name: a, demand: 1\n")
    with pytest.raises(SettingsError, match="not valid YAML") as info:
        load_problem(broken)
    assert "line" in info.value.where
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(problem_dict([10, 20])))
    assert load_problem(good).demand.tolist() == [10, 20]


def test_problem_from_settings_names_the_settings_key():
    defaults = {"workforce": {"initial": 10}, "production": {"labor_hours_per_unit": 2},
                "costs": {"holding_per_unit_period": -1}}
    overrides = {"costs": {"hire_per_worker": -300}}
    periods = [{"name": "2027-01", "demand": 100, "working_days": 20, "safety_stock": 5}]
    with pytest.raises(SettingsError) as info:
        problem_from_settings(merge_params(defaults, overrides), periods, family="Cookware", overrides=overrides)
    message = info.value.message
    assert "planning.families.Cookware.costs.hire_per_worker: must be >= 0" in message
    assert "planning.defaults.costs.holding_per_unit_period: must be >= 0" in message
    defaults["costs"] = {"holding_per_unit_period": 2}
    good = problem_from_settings(merge_params(defaults, {"costs": {"hire_per_worker": 300}}), periods, family="Cookware")
    assert good.name == "Cookware" and good.safety_stock.tolist() == [5.0]
    assert good.costs.hire_per_worker == 300 and good.costs.holding_per_unit_period == 2
    assert good.production.labor_hours_per_unit == 2
