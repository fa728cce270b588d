"""Crash safety, readers during a run, determinism: the published plan is always complete and repeatable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from sop_pipeline.store import db
from tests.support.files import SMALL_CYCLE, snapshot, write_settings

pytestmark = pytest.mark.slow


def _start_run(settings: Path, db_path: Path, cycle: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(settings), "--db", str(db_path),
         "--cycle", cycle],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1)


def _wait_for(process: subprocess.Popen, marker: str, timeout: float = 300) -> str:
    """Read the run's output until `marker` appears; return what was read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    process.kill()
    raise AssertionError(f"{marker!r} never appeared; output:\n{''.join(seen)[-3000:]}")


def _published_cycles(db_path: Path) -> list[str]:
    conn = db.connect(db_path, read_only=True)
    try:
        return [r[0] for r in conn.execute("SELECT plan_cycle::VARCHAR FROM sop.plan_runs ORDER BY 1").fetchall()]
    finally:
        conn.close()


# Log lines written as each stage starts its work; killing there interrupts that stage.
STAGE_MARKERS = [
    "Loading sales history",          # ingest
    "Forecasting",                    # Prophet fits running
    "Planning",                       # production planning
    "Published plan cycle",           # just after the publishing transaction
]


@pytest.mark.parametrize("marker", STAGE_MARKERS)
def test_sigkill_at_any_stage_leaves_published_plans_whole(marker, published_copy, small_sales, tmp_path):
    settings = write_settings(tmp_path, small_sales)
    before = snapshot(published_copy)
    run = _start_run(settings, published_copy, "2026-12", tmp_path / "home")
    _wait_for(run, marker)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)

    after = snapshot(published_copy)
    cycles = _published_cycles(published_copy)
    if marker == "Published plan cycle":
        # Killed after the commit: the new cycle is there, complete, and the old one untouched.
        assert cycles == ["2026-11-01", "2026-12-01"]
        conn = db.connect(published_copy, read_only=True)
        for table in db.PLAN_TABLES:
            rows = conn.execute(f"SELECT count(*) FROM sop.{table} WHERE plan_cycle = DATE '2026-12-01'").fetchall()
            # Empty only where the settings give nothing to plan: no launches, no budget, no exception found.
            assert rows[0][0] > 0 or table in ("new_product_plan", "budget_gap", "exceptions"), table
            old = conn.execute(f"SELECT * FROM sop.{table} WHERE plan_cycle = DATE '2026-11-01' ORDER BY ALL").fetchall()
            assert old == [r for r in before[table]], table
        conn.close()
    else:
        # Killed before publication: nothing of the new cycle is visible, nothing old changed.
        assert after == before and cycles == ["2026-11-01"]

    # The next run completes normally.
    rerun = _start_run(settings, published_copy, "2026-12", tmp_path / "home")
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output[-3000:]
    assert _published_cycles(published_copy) == ["2026-11-01", "2026-12-01"]


def test_readers_during_a_run_see_the_previous_complete_plan(published_copy, small_sales, tmp_path):
    settings = write_settings(tmp_path, small_sales)
    # The reference run published a snapshot; a run of the next cycle replaces it only when it is done.
    published = db.snapshot_path(published_copy)
    assert published.exists()
    run = _start_run(settings, published_copy, "2026-12", tmp_path / "home")
    reads, lock_errors, main_reads = 0, 0, 0
    while run.poll() is None:
        conn = duckdb.connect(str(published), read_only=True)
        cycles = [r[0] for r in conn.execute("SELECT plan_cycle::VARCHAR FROM sop.plan_runs ORDER BY 1").fetchall()]
        # Whatever it shows is complete: every cycle it lists has its production plan and forecast.
        for cycle in cycles:
            for table in ("production_plan", "forecast", "operating_plan"):
                count = conn.execute(f"SELECT count(*) FROM sop.{table} WHERE plan_cycle = $c::DATE",
                                     {"c": cycle}).fetchall()[0][0]
                assert count > 0, (table, cycle)
        conn.close()
        reads += 1
        # The working database: a read-only connection either works (between steps) or gets DuckDB's
        # lock error, which the README documents as retryable.
        try:
            main = duckdb.connect(str(published_copy), read_only=True)
            main.close()
            main_reads += 1
        except duckdb.IOException as exc:
            assert "lock" in str(exc).lower()
            lock_errors += 1
        time.sleep(0.2)
    output = run.stdout.read()
    assert run.returncode == 0, output[-3000:]
    assert reads > 3
    conn = duckdb.connect(str(published), read_only=True)
    assert [r[0] for r in conn.execute("SELECT plan_cycle::VARCHAR FROM sop.plan_runs ORDER BY 1").fetchall()] \
        == ["2026-11-01", "2026-12-01"]
    # The meeting's views work in the snapshot too.
    assert conn.execute("SELECT count(*) FROM sop.plan_over_plan").fetchall()[0][0] > 0
    conn.close()


def test_two_runs_of_the_same_cycle_publish_identical_tables(published_small, small_sales, tmp_path, run_cli):
    settings = write_settings(tmp_path, small_sales)
    fresh = tmp_path / "again.duckdb"
    result = run_cli("run", "--config", settings, "--db", fresh, "--cycle", SMALL_CYCLE)
    assert result.code == 0, result.err[-3000:]
    first, second = snapshot(published_small), snapshot(fresh)
    for table in db.PLAN_TABLES:
        if table == "plan_runs":
            # Run id and timestamp differ by nature; everything else must not.
            rows = []
            for path in (published_small, fresh):
                conn = db.connect(path, read_only=True)
                try:
                    rows.append(conn.execute("SELECT * EXCLUDE (run_id, created_at) FROM sop.plan_runs "
                                             "ORDER BY ALL").fetchall())
                finally:
                    conn.close()
            assert rows[0] == rows[1]
        else:
            assert first[table] == second[table], f"sop.{table} differs between two identical runs"
