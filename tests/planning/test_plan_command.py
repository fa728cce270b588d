"""`sop-pipeline plan`: readable tables by default, one JSON object with --json, errors as one paragraph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sop_pipeline.cli import main
from tests.support.files import PROJECT_ROOT
from tests.support.planning_cases import problem_dict

EXAMPLE = PROJECT_ROOT / "assets" / "examples" / "red_tomato.yaml"


def _run(argv):
    return main(["plan", *argv])


def test_json_is_one_object(capfd):
    assert _run(["--problem", str(EXAMPLE), "--json"]) == 0
    out = capfd.readouterr().out
    body = json.loads(out)  # the whole of stdout, solver banner included, must be one JSON object
    assert list(body) == ["level", "chase", "optimal"]
    optimal = body["optimal"]
    assert optimal["total_cost"] == pytest.approx(422_275, abs=0.01)
    assert sum(optimal["cost_breakdown"].values()) == pytest.approx(optimal["total_cost"], abs=0.005)
    assert len(optimal["periods"]) == 6 and optimal["periods"][0]["period"] == "2027-01"


def test_table_by_default(capfd):
    assert _run(["--problem", str(EXAMPLE), "--strategy", "optimal"]) == 0
    out = capfd.readouterr().out
    assert "optimal plan" in out and "422,275.00" in out


def test_errors_exit_with_their_code(tmp_path, capfd):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(problem_dict([-1])))
    assert _run(["--problem", str(bad)]) == 2
    assert "periods[0].demand: must be >= 0" in capfd.readouterr().err
    impossible = tmp_path / "impossible.yaml"
    impossible.write_text(yaml.safe_dump(problem_dict([500], workforce={"initial": 0, "max": 1},
                                                      inventory={"allow_backlog": False})))
    assert _run(["--problem", str(impossible), "--strategy", "optimal"]) == 3
    captured = capfd.readouterr()
    assert "Error:" in captured.err and "Traceback" not in captured.err and captured.out == ""


def _sailco(tmp_path) -> Path:
    """Winston's Sailco boats with one fixed worker: 40 boats a quarter on regular time, overtime unlimited,
    10 boats in stock. Regular time alone cannot meet 60 boats in Q2, so level (and chase) are impossible."""
    problem = {
        "periods": [{"name": f"Q{i + 1}", "demand": d, "working_days": 20} for i, d in enumerate([40, 60, 75, 25])],
        "workforce": {"initial": 1, "min": 1, "max": 1, "hours_per_day": 8},
        "production": {"labor_hours_per_unit": 4, "max_overtime_hours_per_worker": None},
        "inventory": {"initial": 10, "allow_backlog": False},
        "costs": {"regular_wage_per_hour": 100, "overtime_wage_per_hour": 112.5, "holding_per_unit_period": 20},
    }
    path = tmp_path / "sailco.yaml"
    path.write_text(yaml.safe_dump(problem))
    return path


def test_all_reports_impossible_strategies_in_place(tmp_path, capfd):
    path = _sailco(tmp_path)
    assert _run(["--problem", str(path), "--strategy", "all", "--json"]) == 0
    body = json.loads(capfd.readouterr().out)
    assert list(body) == ["level", "chase", "optimal"]
    assert body["level"]["status"] == "infeasible" and "level plan is impossible" in body["level"]["reason"]
    # Winston's optimum ($78,450: regular time each quarter, 10 and 35 boats on overtime in Q2 and Q3),
    # plus the worker's 15 idle boats' worth of regular hours in Q4, paid here as wages are: $84,450.
    assert body["optimal"]["total_cost"] == pytest.approx(84_450, abs=0.01)
    assert [p["overtime_units"] for p in body["optimal"]["periods"]] == pytest.approx([0, 10, 35, 0], abs=1e-6)
    assert all(("total_cost" in entry) != (entry.get("status") == "infeasible") for entry in body.values())

    assert _run(["--problem", str(path)]) == 0
    out = capfd.readouterr().out
    assert "optimal plan" in out and "84,450.00" in out and "level plan: impossible" in out


def test_all_exits_3_when_no_strategy_can_plan(tmp_path, capfd):
    impossible = tmp_path / "impossible.yaml"
    impossible.write_text(yaml.safe_dump(problem_dict([500], workforce={"initial": 0, "max": 1},
                                                      inventory={"allow_backlog": False})))
    assert _run(["--problem", str(impossible), "--strategy", "all", "--json"]) == 3
    body = json.loads(capfd.readouterr().out)
    assert {entry["status"] for entry in body.values()} == {"infeasible"}
