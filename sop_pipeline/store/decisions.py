"""The meeting's decision log (`sop.decisions`): decisions on a cycle's exceptions and scenarios.

Plan decisions (approved, adopted) are recorded by store/versions.py as they happen. An exception is named
by its number in the report and the workbook (most money at stake first) or by its key
(`sop.exceptions.exception_key`); its latest decision in the cycle is its state. Open and deferred
exceptions are carried forward into the next cycle's exceptions at its publication.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from sop_pipeline.common.errors import SopError
from sop_pipeline.store import db, versions

EXCEPTION_DECISIONS = ("accepted", "mitigated", "deferred")
SCENARIO_DECISIONS = ("rejected", "deferred")


def exception_decisions(conn, cycle: date) -> pl.DataFrame:
    """The cycle's published exceptions, numbered, each with its latest decision (NULL: open)."""
    return db.query_rows_pl(conn, db.sql_text("exception_decisions"), {"c": cycle})


def decision_log(conn, cycle: date) -> pl.DataFrame:
    return db.query_rows_pl(conn, db.sql_text("decisions_of_cycle"), {"c": cycle})


def decide_exception(conn, cycle: date, exception: str, decision: str, by: str, note: str | None = None,
                     scenario: str | None = None) -> dict:
    """Record a decision on one exception of the cycle (by number or key); returns the exception's row."""
    by = versions.check_who(by)
    if decision not in EXCEPTION_DECISIONS:
        raise SopError(f"--decision {decision!r} is not a decision on an exception", where="--decision",
                       fix="Choose one of: " + ", ".join(EXCEPTION_DECISIONS))
    if decision == "mitigated" and not scenario:
        raise SopError("A mitigated exception names the scenario that mitigates it", where="--scenario",
                       fix="Add --scenario NAME (one of the cycle's scenarios in sop.scenario_comparison)")
    with db.transaction(conn):
        version = _published_version(conn, cycle)
        if scenario:
            _check_scenario(conn, cycle, scenario)
        table = exception_decisions(conn, cycle)
        text = str(exception).strip()
        found = (table.filter(pl.col("number") == int(text)) if text.isdigit()
                 else table.filter(pl.col("exception_key") == text))
        if found.height == 0:
            shown = ", ".join(f"{n} ({k})" for n, k in table.select("number", "exception_key").head(5).iter_rows())
            raise SopError(f"Plan cycle {cycle:%Y-%m} has no exception {text!r}", where="--exception",
                           fix=(f"Give its number in the report's Decisions needed or its key, e.g. {shown}"
                                if table.height else "This cycle has no exceptions to decide"))
        row = found.row(0, named=True)
        versions.record_decision(conn, cycle, version, decision, by=by, note=note, subject_kind="exception",
                                 subject=row["exception_key"], scenario=scenario)
    return row


def decide_scenario(conn, cycle: date, scenario: str, decision: str, by: str, note: str | None = None) -> None:
    """Record that the meeting rejected or deferred a scenario of the cycle."""
    by = versions.check_who(by)
    if decision not in SCENARIO_DECISIONS:
        raise SopError(f"--decision {decision!r} is not a decision on a scenario", where="--decision",
                       fix="Choose rejected or deferred (`sop-pipeline adopt` makes a scenario the plan)")
    with db.transaction(conn):
        version = _published_version(conn, cycle)
        _check_scenario(conn, cycle, scenario)
        versions.record_decision(conn, cycle, version, decision, by=by, note=note, subject_kind="scenario",
                                 subject=scenario, scenario=scenario)


def _published_version(conn, cycle: date) -> int:
    version = versions.shown_version(conn, cycle)
    if version is None:
        raise versions.no_cycle(conn, cycle)
    return version


def _check_scenario(conn, cycle: date, scenario: str) -> None:
    names = [r[0] for r in conn.execute(db.sql_text("scenario_names"), {"c": cycle}).fetchall()]
    if scenario not in names:
        raise SopError(f"Plan cycle {cycle:%Y-%m} has no scenario {scenario!r}", where="--scenario",
                       fix=("Choose one of: " + ", ".join(names)) if names else
                       "This cycle has no scenarios (scenarios: in sop.yaml, or `sop-pipeline what-if --save NAME`)")
