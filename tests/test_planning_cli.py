"""`sop-pipeline plan`: readable tables by default, one JSON object with --json, errors as one paragraph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sop_pipeline.cli import main
from tests.planning_cases import problem_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "red_tomato.yaml"


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
