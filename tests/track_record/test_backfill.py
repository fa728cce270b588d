"""`sop-pipeline backfill`: a replayed cycle equals a run made with the history cut at that cycle (table by
table), resume keeps what was done, and bad ranges stop with exit 2 and nothing published changed."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.store import db
from sop_pipeline.track_record.backfill import BACKFILL, RUN, PublishedCycle, plan_backfill
from tests.support.files import snapshot, write_settings

# Columns of sop.plan_runs that name the run itself, not the plan: a run id, a clock, the sales file's path
# (the reference run reads a cut copy) and what follows from that path (settings hash and text).
RUN_IDENTITY = ["run_id", "created_at", "input_files", "settings_hash", "settings_json", "run_kind"]
CYCLES = (date(2026, 8, 1), date(2026, 9, 1))


def _cut_copy(sales: Path, before: date, target: Path) -> Path:
    """The sales file with only the rows dated before `before`: the history as it stood then."""
    with sales.open(newline="") as src, target.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            if date.fromisoformat(row["date"]) < before:
                writer.writerow(row)
    return target


def _cycle_tables(db_path: Path, cycle: date) -> dict[str, pl.DataFrame]:
    conn = db.connect(db_path, read_only=True)
    try:
        frames = {t: db.read_cycle(conn, t, cycle, schema="sop") for t in db.PLAN_TABLES}
    finally:
        conn.close()
    frames["plan_runs"] = frames["plan_runs"].drop(RUN_IDENTITY)
    return {t: f.sort(f.columns) for t, f in frames.items()}


@pytest.mark.slow
def test_backfilled_cycles_equal_runs_on_the_history_cut_at_each_cycle(run_cli, tmp_path, small_sales):
    backfilled = tmp_path / "backfill" / "sop.duckdb"
    settings = write_settings(tmp_path, small_sales)
    result = run_cli("backfill", "--from", "2026-08", "--to", "2026-09", "--config", settings, "--db", backfilled)
    assert result.code == 0, result.text[-3000:]
    assert "[2/2] cycle 2026-09 published" in result.out

    # The reference: `run` month by month, each on a copy of the sales file cut at its cycle.
    reference = tmp_path / "reference" / "sop.duckdb"
    for cycle in CYCLES:
        folder = tmp_path / f"cut_{cycle:%Y%m}"
        folder.mkdir()
        cut = _cut_copy(small_sales, cycle, folder / "sales.csv")
        ran = run_cli("run", "--config", write_settings(folder, cut), "--db", reference, "--cycle", f"{cycle:%Y-%m}")
        assert ran.code == 0, ran.text[-3000:]

    for cycle in CYCLES:
        ours, theirs = _cycle_tables(backfilled, cycle), _cycle_tables(reference, cycle)
        for table in db.PLAN_TABLES:
            assert ours[table].height == theirs[table].height, (cycle, table)
            assert_frame_equal(ours[table], theirs[table], check_exact=True), (cycle, table)
        assert ours["demand_history"]["month"].max() < cycle  # no month at or after the cycle was read

    conn = db.connect(backfilled, read_only=True)
    kinds = conn.execute("SELECT plan_cycle, run_kind FROM sop.plan_runs ORDER BY 1").fetchall()
    conn.close()
    assert kinds == [(CYCLES[0], BACKFILL), (CYCLES[1], BACKFILL)]

    # Run again: both cycles are kept (resume), nothing is replanned or changed.
    before = snapshot(backfilled)
    again = run_cli("backfill", "--from", "2026-08", "--to", "2026-09", "--config", settings, "--db", backfilled)
    assert again.code == 0, again.text[-3000:]
    assert "Nothing left to replay" in again.out
    assert snapshot(backfilled) == before


@pytest.mark.slow
def test_reusing_backtest_origins_publishes_the_same_tables_as_fitting_them_again(run_cli, tmp_path, small_sales):
    # Three origins a month apart, every configuration at each (no race: its later origins fit each series'
    # finalists, chosen anew every cycle): each cycle shares two origins with the one before. Two workers: the
    # fits go through the pool.
    settings = write_settings(tmp_path, small_sales, forecast={"backtest_origins": 3, "backtest_step_months": 1,
                                                               "backtest_finalists": 0, "workers": 2})
    cycles = (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1))
    reused, fitted = tmp_path / "reused" / "sop.duckdb", tmp_path / "fitted" / "sop.duckdb"
    with_cache = run_cli("backfill", "--from", "2026-08", "--to", "2026-10", "--config", settings, "--db", reused)
    assert with_cache.code == 0, with_cache.text[-3000:]
    without = run_cli("backfill", "--from", "2026-08", "--to", "2026-10", "--config", settings, "--db", fitted,
                      "--no-fit-cache")
    assert without.code == 0, without.text[-3000:]
    # The cache was used: the first cycle fits its 3 origins, each later one fits 1 and reuses 2.
    published = [line for line in with_cache.out.splitlines() if "published in" in line]
    assert [line.split("reused: ")[1][:13] for line in published] == ["0 of 3 origin", "2 of 3 origin",
                                                                     "2 of 3 origin"], published
    assert "reused" not in without.out
    for cycle in cycles:
        ours, theirs = _cycle_tables(reused, cycle), _cycle_tables(fitted, cycle)
        for table in db.PLAN_TABLES:
            assert ours[table].height == theirs[table].height, (cycle, table)
            assert_frame_equal(ours[table], theirs[table], check_exact=True), (cycle, table)


def _published(*cycles: tuple[str, str, str]) -> dict:
    return {date.fromisoformat(c + "-01"): PublishedCycle(date.fromisoformat(c + "-01"), kind, h)
            for c, kind, h in cycles}


def test_resume_keeps_the_leading_cycles_done_with_the_same_settings():
    published = _published(("2025-01", BACKFILL, "h"), ("2025-02", BACKFILL, "h"), ("2025-04", BACKFILL, "h"))
    plan = plan_backfill(date(2025, 1, 1), date(2025, 5, 1), date(2022, 1, 1), date(2026, 10, 1), published, "h")
    assert plan.done == (date(2025, 1, 1), date(2025, 2, 1))
    # 2025-04 was backfilled, but after the gap at 2025-03 it warm-starts from a new cycle: planned again.
    assert plan.to_run == (date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1))
    changed = plan_backfill(date(2025, 1, 1), date(2025, 2, 1), date(2022, 1, 1), date(2026, 10, 1), published, "x")
    assert changed.done == () and len(changed.to_run) == 2


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2022-01", "2022-06", "not after the first month of sales (2022-01)"),
    ("2026-09", "2026-11", "after the last month of sales (2026-10)"),
    ("2025-01", "2025-03", "planned by a live run, which a backfill never replaces: 2025-02"),
])
def test_bad_ranges_name_the_problem(start, end, expected):
    published = _published(("2025-02", RUN, "h"))
    with pytest.raises(SettingsError) as raised:
        plan_backfill(date.fromisoformat(start + "-01"), date.fromisoformat(end + "-01"), date(2022, 1, 1),
                      date(2026, 10, 1), published, "h")
    assert expected in raised.value.message and raised.value.exit_code == 2


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2023-11", "2024-01", "--from 2023-11 is not after the first month of sales (2023-11)"),
    ("2026-10", "2026-11", "--to 2026-11 is after the last month of sales (2026-10)"),
    ("2026-09", "2026-10", "overlaps cycle(s) planned by a live run"),
    ("2026-10", "2026-09", "--from 2026-10 is after --to 2026-09"),
    ("2026-13", "2026-10", "--from '2026-13' is not a month"),
])
def test_bad_ranges_exit_2_and_change_nothing(run_cli, published_copy, small_sales, tmp_path, start, end, expected):
    conn = db.connect(published_copy)
    # The live cycle in the database is 2026-11; make it 2026-10 for the overlap case (a live run of October).
    conn.execute("UPDATE sop.plan_runs SET plan_cycle = DATE '2026-10-01'")
    conn.close()
    before = snapshot(published_copy)
    settings = write_settings(tmp_path, small_sales)
    result = run_cli("backfill", "--from", start, "--to", end, "--config", settings, "--db", published_copy)
    assert result.code == 2, result.text[-2000:]
    assert expected in result.err and "Traceback" not in result.err
    assert "Nothing was published" in result.err or "not a month" in result.err or "after --to" in result.err
    assert snapshot(published_copy) == before


def test_a_backfilled_cycle_keeps_only_the_planner_rows_it_could_have_planned():
    from sop_pipeline.track_record.backfill import plannable_adjustments, plannable_launches, within_horizon

    cycle = date(2025, 11, 1)
    history = pl.DataFrame({"sku": ["OLD-1", "OLD-2"], "month": [date(2025, 10, 1)] * 2})
    catalogue = pl.DataFrame({
        "product": ["NEW-A", "NEW-B", "NEW-C", "OLD-2"],
        "launch_month": [date(2026, 3, 1), date(2026, 3, 1), date(2027, 6, 1), date(2026, 1, 1)],
        "analogs": [[{"sku": "OLD-1", "weight": 1.0}], [{"sku": "LATER-9", "weight": 1.0}], [], []],
    })
    # NEW-B's analog had not sold yet, NEW-C launches after the 6-month horizon, OLD-2 already sells.
    assert plannable_launches(catalogue, history, cycle, 6)["product"].to_list() == ["NEW-A"]
    adjustments = pl.DataFrame({"month": [date(2025, 10, 1), date(2025, 11, 1), date(2026, 4, 1), date(2026, 5, 1)]})
    assert within_horizon(adjustments, cycle, 6)["month"].to_list() == [date(2025, 11, 1), date(2026, 4, 1)]
    # An adjustment of a SKU the cycle does not plan (launched since: the demo's CUT-0024 row stopped a backfill
    # from 2024-11 at 2025-09) is left out; a family's stays, and so does one of a SKU or launch it plans.
    adjustments = pl.DataFrame({"family": [None, None, "Alpha", None],
                                "sku": ["LATER-9", "OLD-1", None, "NEW-A"], "month": [date(2026, 1, 1)] * 4})
    kept = plannable_adjustments(adjustments, cycle, 6, {"OLD-1", "OLD-2", "NEW-A"})
    assert kept.select("family", "sku").rows() == [(None, "OLD-1"), ("Alpha", None), (None, "NEW-A")]
