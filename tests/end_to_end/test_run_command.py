"""`sop-pipeline run` end to end on small data: runs recorded in Dagster, reruns idempotent, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_pipeline.store import db
from tests.support.files import SMALL_CYCLE, snapshot, write_settings


def _run_bad(run_cli, tmp_path, db_path: Path, sales_path, **sales):
    settings = write_settings(tmp_path, sales_path, **({"sales": sales} if sales else {}))
    return run_cli("run", "--config", settings, "--db", db_path, "--cycle", SMALL_CYCLE)


def _assert_clean_failure(result, *expected: str):
    assert result.code != 0
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error:"), result.err[-2000:]
    message = result.err[result.err.rfind("Error:"):]
    assert "Traceback" not in message
    for text in expected:
        assert text in message, f"{text!r} not in: {message}"


def test_run_publishes_and_records_the_run_in_dagster(run_cli, tmp_path, small_sales, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings = write_settings(tmp_path, small_sales)
    db_path = tmp_path / "sop.duckdb"
    first = run_cli("run", "--config", settings, "--db", db_path)  # default cycle: month after the last sale
    assert first.code == 0, first.err[-3000:]
    before = snapshot(db_path)
    assert before["demand_history"] and len(before["plan_runs"]) == 1
    assert str(before["plan_runs"][0][0]) == "2026-11-01"

    second = run_cli("run", "--config", settings, "--db", db_path, "--cycle", SMALL_CYCLE)
    assert second.code == 0, second.err[-3000:]
    after = snapshot(db_path)
    # A rerun replaces the cycle's rows: the same counts, one plan_runs row, the newer run id.
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    assert after["demand_history"] == before["demand_history"]
    assert after["plan_runs"][0][1] != before["plan_runs"][0][1]

    from sop_pipeline.defs.instance_storage import open_instance

    with open_instance(home) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.is_success for r in runs)
        assert {r.tags.get("dagster/partition") for r in runs} == {"2026-11-01"}


def test_other_cycles_are_kept(run_cli, published_copy, small_sales, tmp_path):
    settings = write_settings(tmp_path, small_sales)
    result = run_cli("run", "--config", settings, "--db", published_copy, "--cycle", "2026-10")
    assert result.code == 0, result.err[-3000:]
    conn = db.connect(published_copy, read_only=True)
    cycles = conn.execute("SELECT DISTINCT plan_cycle::VARCHAR FROM sop.plan_runs ORDER BY 1").fetchall()
    conn.close()
    assert cycles == [("2026-10-01",), ("2026-11-01",)]


BAD_FILES = {
    "empty": (b"", ["sales file is empty", "empty.csv"]),
    "header_only": (b"date,sku,family,units,revenue\n", ["no sales rows at all", "raw_sales_valid"]),
    "missing_column": (b"date,sku,family,qty,revenue\n2024-01-02,A,F,1,2\n",
                       ["no column 'units'", "missing_column.csv", "sales.columns.units"]),
    "non_numeric_units": (b"date,sku,family,units,revenue\n2024-01-02,A,F,1,2\n2024-01-03,A,F,twelve,2\n",
                          ["units that are not numbers", "file='non_numeric_units.csv'", "row=2", "units_text='twelve'"]),
    "bad_date": (b"date,sku,family,units,revenue\n2024-02-30,A,F,1,2\n",
                 ["dates that cannot be read", "row=1", "sale_date_text='2024-02-30'"]),
    "null_sku": (b"date,sku,family,units,revenue\n2024-01-02,A,F,1,2\n2024-01-02,,F,1,2\n",
                 ["rows with no SKU", "file='null_sku.csv'", "row=2"]),
    "binary": (bytes(range(256)) * 10, ["binary", "binary.csv"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_sales_file_fails_cleanly_and_keeps_the_published_plan(case, run_cli, published_copy, tmp_path):
    content, expected = BAD_FILES[case]
    bad = tmp_path / f"{case}.csv"
    bad.write_bytes(content)
    before = snapshot(published_copy)
    result = _run_bad(run_cli, tmp_path, published_copy, bad)
    _assert_clean_failure(result, *expected)
    assert snapshot(published_copy) == before


def test_missing_path_fails_cleanly(run_cli, published_copy, tmp_path):
    before = snapshot(published_copy)
    result = _run_bad(run_cli, tmp_path, published_copy, tmp_path / "nowhere" / "sales.csv")
    _assert_clean_failure(result, "does not exist", "nowhere")
    assert snapshot(published_copy) == before


def test_bad_input_without_cycle_still_explains(run_cli, tmp_path):
    settings = write_settings(tmp_path, tmp_path / "missing.csv")
    result = run_cli("run", "--config", settings, "--db", tmp_path / "x.duckdb")
    _assert_clean_failure(result, "does not exist", "missing.csv")


def test_bad_cycle_argument(run_cli, tmp_path, small_sales):
    settings = write_settings(tmp_path, small_sales)
    result = run_cli("run", "--config", settings, "--db", tmp_path / "x.duckdb", "--cycle", "2026-13")
    _assert_clean_failure(result, "is not a month", "YYYY-MM")
