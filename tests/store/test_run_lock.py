"""One run at a time per database (store/lock.py): waiting, --no-wait, and two real runs at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sop_pipeline.common.errors import DatabaseBusyError
from sop_pipeline.defs.resources import PlanDatabase
from sop_pipeline.store import db
from sop_pipeline.store.lock import lock_path, read_holder, run_lock
from tests.support.files import PROJECT_ROOT, SMALL_CYCLE, write_settings


def hold_lock_elsewhere(db_path: Path, run_id: str, seconds: float) -> subprocess.Popen:
    """Another process holding the database's run lock for `seconds`; returns once it holds it."""
    code = textwrap.dedent(f"""
        import sys, time
        from sop_pipeline.store.lock import run_lock
        with run_lock({str(db_path)!r}, {run_id!r}):
            print("held", flush=True)
            time.sleep({seconds})
    """)
    process = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_lock_waits_for_the_holder_and_says_whom(tmp_path):
    db_path = tmp_path / "sop.duckdb"
    other = hold_lock_elsewhere(db_path, "run-of-someone-else", 1.5)
    told = []
    started = time.monotonic()
    with run_lock(db_path, "my-run", on_wait=told.append):
        waited = time.monotonic() - started
        assert read_holder(db_path).run_id == "my-run"
    other.wait(timeout=30)
    assert waited > 0.5, "the lock was granted while another process held it"
    assert [h.run_id for h in told] == ["run-of-someone-else"]
    assert read_holder(db_path) is None  # released: the file says nobody holds it


def test_lock_without_waiting_names_the_holder(tmp_path):
    db_path = tmp_path / "sop.duckdb"
    other = hold_lock_elsewhere(db_path, "run-1234", 30)
    try:
        with pytest.raises(DatabaseBusyError) as caught, run_lock(db_path, "mine", wait=False):
            pass
        assert "run-1234" in caught.value.message and str(db_path) in caught.value.message
    finally:
        other.kill()
        other.wait()
    with run_lock(db_path, "mine", wait=False):  # a killed holder leaves no lock behind
        assert lock_path(db_path).exists()


def test_lock_is_reentrant_in_one_process(tmp_path):
    db_path = tmp_path / "sop.duckdb"
    with run_lock(db_path, "outer"), run_lock(db_path, "inner", wait=False):
        assert read_holder(db_path).run_id == "outer"
    # Another thread of the same process shares it too (the Dagster resource of a CLI run).
    with run_lock(db_path, "outer"):
        done = []

        def enter_again():
            with run_lock(db_path, "x", wait=False):
                done.append(True)

        thread = threading.Thread(target=enter_again)
        thread.start()
        thread.join(5)
        assert done == [True]


def test_run_with_no_wait_stops_at_once_when_the_database_is_busy(run_cli, tmp_path, small_sales):
    settings = write_settings(tmp_path, small_sales)
    db_path = tmp_path / "sop.duckdb"
    other = hold_lock_elsewhere(db_path, "busy-run-42", 60)
    try:
        started = time.monotonic()
        result = run_cli("run", "--config", settings, "--db", db_path, "--cycle", SMALL_CYCLE, "--no-wait")
        elapsed = time.monotonic() - started
    finally:
        other.kill()
        other.wait()
    assert result.code == 4, result.text[-2000:]
    assert elapsed < 30
    assert "busy-run-42" in result.err and "Error:" in result.err and "Traceback" not in result.text
    assert not db_path.exists(), "the refused run touched the database"


def _horizons(snapshot: Path) -> list[tuple]:
    """Per published cycle: months in the family forecast, the demand plan and the production plan."""
    conn = duckdb.connect(str(snapshot), read_only=True)
    try:
        return conn.execute("""
            SELECT r.plan_cycle,
                   (SELECT count(DISTINCT month) FROM sop.forecast f WHERE f.plan_cycle = r.plan_cycle AND level = 'family'),
                   (SELECT count(DISTINCT month) FROM sop.demand_plan d WHERE d.plan_cycle = r.plan_cycle),
                   (SELECT count(DISTINCT month) FROM sop.production_plan p WHERE p.plan_cycle = r.plan_cycle)
            FROM sop.plan_runs r""").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_two_runs_at_once_never_publish_a_mixed_plan(tmp_path, small_sales):
    """Two runs (horizons 6 and 4) on one database started together: the second waits for the first,
    and a reader polling the published snapshot all along only ever sees plans whose forecast, demand
    plan and production plan cover the same months."""
    db_path = tmp_path / "sop.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    runs = []
    for horizon in (6, 4):
        folder = tmp_path / f"h{horizon}"
        folder.mkdir()
        settings = write_settings(folder, small_sales, forecast={"horizon_months": horizon, "backtest_months": 2})
        runs.append(subprocess.Popen(
            [sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(settings), "--db", str(db_path),
             "--cycle", SMALL_CYCLE], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    snapshot = db.snapshot_path(db_path)
    seen: set[tuple] = set()
    while any(run.poll() is None for run in runs):
        if snapshot.exists():
            try:
                seen.update(_horizons(snapshot))
            except duckdb.IOException:
                pass  # the file was being renamed into place
        time.sleep(0.2)
    outputs = [run.stdout.read() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n\n".join(o[-3000:] for o in outputs)
    seen.update(_horizons(snapshot))
    assert seen, "the reader never saw a published plan"
    mixed = [row for row in seen if len(set(row[1:])) != 1]
    assert not mixed, f"a published plan mixed two runs: {mixed}"
    assert {row[1] for row in seen} <= {4, 6}
    assert sum("Waiting for run" in output for output in outputs) == 1, outputs


def test_ui_and_schedule_runs_take_the_same_lock(tmp_path):
    """A run launched outside the CLI (UI, schedule) waits in its database resource for the holder."""
    db_path = tmp_path / "sop.duckdb"
    entered = []

    @dg.asset
    def touches_the_database(database: PlanDatabase) -> None:
        entered.append(time.monotonic())
        assert read_holder(db_path).run_id == dg.AssetExecutionContext.get().run_id

    other = hold_lock_elsewhere(db_path, "cli-run", 2)
    started = time.monotonic()
    result = dg.materialize([touches_the_database], resources={"database": PlanDatabase(database=str(db_path))})
    other.wait(timeout=30)
    assert result.success
    assert entered[0] - started > 1.0, "the run's first step started while another run held the database"
    assert read_holder(db_path) is None  # released when the run ended
