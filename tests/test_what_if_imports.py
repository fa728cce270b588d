"""`sop-pipeline what-if` answers in seconds partly because it loads little: not Dagster, Great Expectations,
Prophet, plotly, pandas, CVXPY/SciPy or pyarrow (together several seconds of start-up). These tests run the
command path in a fresh interpreter and list what it imported; they time nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from sop_pipeline.store import db

# Top-level packages the what-if must not import (each pulls in a second or more, or most of SciPy).
HEAVY = ("dagster", "great_expectations", "prophet", "cmdstanpy", "plotly", "pandas", "cvxpy", "scipy", "pyarrow",
         "dask", "distributed")
ROOT = Path(__file__).resolve().parents[1]


def imported(code: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_what_if_command_path_imports_none_of_the_heavy_packages():
    # The parser every command builds, and the modules a what-if plans with.
    loaded = imported("import sop_pipeline.cli as cli\ncli.build_parser()\n"
                       "import sop_pipeline.cli.what_if, sop_pipeline.scenarios.plan, sop_pipeline.scenarios.compare\n"
                       "import sop_pipeline.supply.strategies, sop_pipeline.supply.plans, sop_pipeline.supply.model")
    assert loaded & set(HEAVY) == set()
    assert {"highspy", "polars", "duckdb"} <= loaded  # the probe does see what is imported


def test_the_probe_sees_a_heavy_import():
    # The probe can fail: the CVXPY reference model and a plan's pandas frame do import their packages.
    assert {"cvxpy", "scipy"} <= imported("import sop_pipeline.supply.cvxpy_model")
    assert "pandas" in imported(
        "from sop_pipeline.supply import plan\nfrom tests.planning_cases import problem\n"
        "plan(problem([10, 20], workforce={'initial': 1}), 'level').periods")


def test_a_small_read_is_the_arrow_read_without_pyarrow(tmp_path):
    conn = duckdb.connect(str(tmp_path / "t.duckdb"))
    conn.execute("CREATE TABLE t (plan_cycle DATE, family VARCHAR, month DATE, units DOUBLE, n BIGINT, k INTEGER, "
                 "flag BOOLEAN, stamp TIMESTAMP)")
    conn.execute("INSERT INTO t VALUES ('2026-11-01', 'A', '2027-01-01', 1.5, 3, 2, true, '2026-11-02 10:00:00'), "
                 "('2026-11-01', NULL, '2027-02-01', NULL, NULL, NULL, NULL, NULL), "
                 "('2026-11-01', 'B', '2027-03-01', 'NaN', -1, 0, false, '2026-11-03 00:00:01.5'), "
                 "('2026-12-01', 'C', '2027-03-01', 2.0, 1, 1, true, NULL)")
    arrow = db.read_cycle(conn, "t", date(2026, 11, 1), schema="main")
    small = db.read_cycle(conn, "t", date(2026, 11, 1), schema="main", small=True)
    assert small.schema == arrow.schema and small.height == 3
    assert small.equals(arrow)
    assert small["units"].is_nan().to_list() == arrow["units"].is_nan().to_list() == [False, True, None]
    # types it does not map (here a SMALLINT and a DECIMAL) go through Arrow as before
    mixed = db.query_rows_pl(conn, "SELECT 7::SMALLINT AS s, 1.25::DECIMAL(5, 2) AS x")
    assert mixed.equals(db.query_pl(conn, "SELECT 7::SMALLINT AS s, 1.25::DECIMAL(5, 2) AS x"))
