"""The decision log (`sop-pipeline decide`, sop.decisions): decisions on exceptions and scenarios, what the
report shows as decided and open, and open exceptions carried forward into the next cycle."""

from __future__ import annotations

from datetime import date

from sop_pipeline.store import db, versions
from tests.support.files import SMALL_CYCLE, snapshot

CYCLE = date(2026, 11, 1)


def rows(path, sql, params=None):
    conn = db.connect(path, read_only=True)
    try:
        return conn.execute(sql, params or {}).fetchall()
    finally:
        conn.close()


def exceptions_of(path, cycle):
    return rows(path, "SELECT exception_key, carried_from FROM sop.exceptions WHERE plan_cycle = $c ORDER BY 1",
                {"c": cycle})


def add_exceptions(path, n: int) -> None:
    """Give the published cycle (sop.* and its version 1) `n` more exceptions, with less money at stake than
    the run's: the small plan raises a couple, and the decision log needs a few to tell them apart."""
    conn = db.connect(path)
    try:
        for i in range(n):
            for table, extra in (("sop.exceptions", ""), ("sop_versions.exceptions", ", 1 AS version")):
                conn.execute(f"INSERT INTO {table} BY NAME SELECT $c AS plan_cycle, 'low' AS severity, "
                             f"'plan_change' AS kind, 'Family {i}' AS family, 1.0 AS value, 0.5 AS threshold, "
                             f"{i} AS money_at_stake, 'Plan change {i}' AS message, "
                             f"'plan_change//Family {i}//horizon' AS exception_key{extra}", {"c": CYCLE})
    finally:
        conn.close()


def test_a_decision_is_recorded_shown_and_open_ones_carried_forward(published_copy, run_cli):
    add_exceptions(published_copy, 3)
    numbered = rows(published_copy, "SELECT exception_key, money_at_stake FROM sop.exceptions WHERE plan_cycle = $c "
                                    "ORDER BY money_at_stake DESC NULLS LAST, exception_key", {"c": CYCLE})
    assert len(numbered) >= 3, "the small plan should raise a few exceptions"
    first_key, second_key = numbered[0][0], numbered[1][0]
    accepted = run_cli("decide", "--db", published_copy, "--cycle", SMALL_CYCLE, "--exception", "1",
                       "--decision", "accepted", "--by", "Ana", "--note", "we live with it")
    assert accepted.code == 0, accepted.text
    assert first_key in accepted.out
    deferred = run_cli("decide", "--db", published_copy, "--cycle", SMALL_CYCLE, "--exception", second_key,
                       "--decision", "deferred", "--by", "Ben")
    assert deferred.code == 0, deferred.text
    log = rows(published_copy, "SELECT version, decision, subject_kind, subject, decided_by, note FROM sop.decisions "
                               "ORDER BY decided_at, rowid")
    assert log == [(1, "accepted", "exception", first_key, "Ana", "we live with it"),
                   (1, "deferred", "exception", second_key, "Ben", None)]

    # The report shows decided, deferred and open.
    report = (published_copy.parent / "reports" / f"sop_report_{SMALL_CYCLE}.html").read_text()
    assert f"1 decided, 1 deferred, {len(numbered) - 2} open" in report
    assert "we live with it" in report

    # The next cycle: the open and deferred exceptions of 2026-11 are carried forward, the accepted one is not.
    conn = db.connect(published_copy)
    try:
        db.ensure_schema(conn)
        nxt = date(2026, 12, 1)
        for table in db.PLAN_TABLES:
            conn.execute(f"DELETE FROM draft.{table} WHERE plan_cycle = $n", {"n": nxt})
            conn.execute(f"INSERT INTO draft.{table} BY NAME SELECT * REPLACE ($n AS plan_cycle) FROM draft.{table} "
                         f"WHERE plan_cycle = $c", {"n": nxt, "c": CYCLE})
        # This cycle's own exceptions: only the first one of 2026-11 recurs.
        conn.execute("DELETE FROM draft.exceptions WHERE plan_cycle = $n AND exception_key <> $k",
                     {"n": nxt, "k": first_key})
        conn.execute("UPDATE draft.exceptions SET exception_key = NULL, carried_from = NULL WHERE plan_cycle = $n",
                     {"n": nxt})
        versions.publish(conn, nxt)
    finally:
        conn.close()
    carried = dict(exceptions_of(published_copy, date(2026, 12, 1)))
    expected_open = {k for k, _ in numbered} - {first_key}
    assert set(carried) == expected_open | {first_key}
    assert carried[first_key] is None  # accepted in 2026-11: it recurs as a new exception, not carried
    assert all(carried[k] == CYCLE for k in expected_open)


def test_bad_decisions_fail_cleanly(published_copy, run_cli):
    before = snapshot(published_copy)
    cases = [
        (("--exception", "999", "--decision", "accepted"), "has no exception '999'"),
        (("--exception", "1", "--decision", "mitigated"), "names the scenario that mitigates it"),
        (("--exception", "1", "--decision", "mitigated", "--scenario", "nope"), "has no scenario 'nope'"),
        (("--exception", "1", "--decision", "rejected"), "is not a decision on an exception"),
        (("--scenario", "base", "--decision", "accepted"), "is not a decision on a scenario"),
        (("--decision", "deferred",), "decide needs what was decided on"),
    ]
    for args, expected in cases:
        result = run_cli("decide", "--db", published_copy, "--cycle", SMALL_CYCLE, "--by", "Ana", *args)
        assert result.code == 2, (args, result.text)
        assert expected in " ".join(result.err.split()), (args, result.err)
    wrong_cycle = run_cli("decide", "--db", published_copy, "--cycle", "2025-01", "--exception", "1",
                          "--decision", "accepted", "--by", "Ana")
    assert wrong_cycle.code == 2 and "has not been published" in wrong_cycle.err
    assert snapshot(published_copy) == before
    assert rows(published_copy, "SELECT count(*) FROM sop.decisions") == [(0,)]
