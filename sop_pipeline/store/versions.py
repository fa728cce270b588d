"""Plan versions: every run (or adopted scenario) of a cycle is a new version; the meeting approves one.

`sop_versions.<table>` holds every version of every cycle (the `sop.*` columns plus `version`);
`sop.<table>` shows one version per cycle, the approved one where there is one, else the latest, so a
query written before versions existed keeps its meaning. A version's status in `plan_runs` is
'proposed' (waiting for the meeting), 'approved' (the plan of record: never overwritten) or
'superseded' (a later version replaced the proposal, or another version was approved).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sop_pipeline.common.errors import SopError
from sop_pipeline.store import db

SCHEMA = db.VERSIONS
PROPOSED, APPROVED, SUPERSEDED = "proposed", "approved", "superseded"


@dataclass(frozen=True)
class Published:
    """What a publication made of a cycle: the new version, and the approved version sop.* still shows."""

    cycle: date
    version: int
    approved_version: int | None
    counts: dict[str, int]

    @property
    def shown(self) -> int:
        return self.approved_version or self.version

    def describe(self) -> str:
        text = f"Plan cycle {self.cycle:%Y-%m} published as version {self.version} (proposed)"
        if self.approved_version:
            return (text + f"; approved version {self.approved_version} is kept and stays the plan in sop.* "
                    f"(the new version is in {SCHEMA}.*; `sop-pipeline approve --cycle {self.cycle:%Y-%m} "
                    f"--version {self.version} --by NAME` makes it the plan)")
        return text + "; sop.* shows it until a version is approved"


def versions(conn, cycle: date) -> list[tuple]:
    """(version, status, run_id, created_at, adopted_scenario) of a cycle's versions, oldest first."""
    return conn.execute(db.sql_text("versions_of_cycle"), {"c": cycle}).fetchall()


def approved_version(conn, cycle: date) -> int | None:
    found = [v for v, status, *_ in versions(conn, cycle) if status == APPROVED]
    return found[-1] if found else None


def show(conn, cycle: date, version: int, tables: tuple[str, ...] = db.PLAN_TABLES) -> dict[str, int]:
    """Make `version` the rows sop.* shows for the cycle (inside the caller's transaction)."""
    counts = {}
    for table in tables:
        conn.execute(db.statement("cycle_delete", table=f"sop.{table}"), {"c": cycle})
        name = "version_show_runs" if table == "plan_runs" else "version_show"
        conn.execute(db.statement(name, table=table), {"c": cycle, "v": version})
        counts[table] = db.count_cycle(conn, f"sop.{table}", cycle)
    return counts


def publish(conn, cycle: date, tables: tuple[str, ...] = db.PLAN_TABLES, approve_by: str | None = None,
            note: str | None = None, decision: str = "approved", scenario: str | None = None) -> Published:
    """Publish the cycle's draft rows as a new proposed version, in one transaction. sop.* shows it unless
    the cycle has an approved version, which stays. With `approve_by` the new version is approved in the same
    transaction (an adopted scenario: `decision` 'adopted', `scenario` its name) and sop.* shows it."""
    with db.transaction(conn):
        known = versions(conn, cycle)
        version = max((v for v, *_ in known), default=0) + 1
        if "exceptions" in tables:
            conn.execute(db.statement("exceptions_set_keys", table="draft.exceptions"))
            db.run_script(conn, "exceptions_carry_forward", {"c": cycle})
        for table in tables:
            name = "version_insert_runs" if table == "plan_runs" else "version_insert"
            conn.execute(db.statement(name, table=table), {"c": cycle, "v": version})
        conn.execute(db.sql_text("versions_supersede_proposed"), {"c": cycle, "v": version})
        approved = approved_version(conn, cycle)
        counts = {t: _count_version(conn, t, cycle, version) for t in tables}
        if approve_by is not None:
            _approve(conn, cycle, version, approved, approve_by, note, decision, scenario)
            show(conn, cycle, version)
            return Published(cycle, version, None, counts)
        show(conn, cycle, approved or version)
    return Published(cycle, version, approved, counts)


def approve(conn, cycle: date, version: int | None, by: str, note: str | None = None) -> tuple[int, int | None]:
    """Approve one version of a cycle (default: the latest) and make it the plan sop.* shows; the version
    approved before it is superseded. Records the decision. Returns (version, previously approved)."""
    by = check_who(by)
    with db.transaction(conn):
        known = {v: status for v, status, *_ in versions(conn, cycle)}
        if not known:
            raise no_cycle(conn, cycle)
        chosen = max(known) if version is None else version
        if chosen not in known:
            raise SopError(f"Plan cycle {cycle:%Y-%m} has no version {chosen}", where="--version",
                           fix=f"Choose one of its versions: {_list(known)}")
        previous = next((v for v, s in known.items() if s == APPROVED), None)
        if previous == chosen:
            raise SopError(f"Version {chosen} of plan cycle {cycle:%Y-%m} is already approved", where="--version",
                           fix=f"Nothing to do; its versions: {_list(known)}")
        _approve(conn, cycle, chosen, previous, by, note)
        show(conn, cycle, chosen)
    return chosen, previous


def _approve(conn, cycle: date, version: int, previous: int | None, by: str, note: str | None,
             decision: str = "approved", scenario: str | None = None) -> None:
    if previous is not None:
        conn.execute(db.sql_text("version_set_status"), {"c": cycle, "v": previous, "s": SUPERSEDED})
    conn.execute(db.sql_text("version_set_status"), {"c": cycle, "v": version, "s": APPROVED})
    conn.execute(db.sql_text("versions_supersede_proposed"), {"c": cycle, "v": version})
    record_decision(conn, cycle, version, decision, by=by, note=note,
                    subject_kind="scenario" if scenario else None, subject=scenario, scenario=scenario)


def check_who(by: str | None) -> str:
    """The name given with --by, stripped; an error when it is empty."""
    by = (by or "").strip()
    if not by:
        raise SopError("--by is empty", where="--by", fix="Give the name of who decides, e.g. --by 'S&OP meeting'")
    return by


def record_decision(conn, cycle: date, version: int | None, decision: str, by: str, note: str | None = None,
                    subject_kind: str | None = None, subject: str | None = None, scenario: str | None = None) -> None:
    conn.execute(db.sql_text("decision_insert"), {
        "c": cycle, "v": version, "d": decision, "k": subject_kind, "subject": subject, "scenario": scenario,
        "by": by, "at": datetime.now().replace(microsecond=0), "note": note})


def shown_version(conn, cycle: date) -> int | None:
    """The version sop.* shows for the cycle (None: not published)."""
    rows = conn.execute(db.sql_text("version_shown"), {"c": cycle}).fetchall()
    return rows[0][0] if rows else None


def latest_publication(conn, cycle: date) -> str | None:
    """The console's sentence about the cycle's latest version (None: not published)."""
    known = versions(conn, cycle)
    if not known:
        return None
    latest, status = known[-1][0], known[-1][1]
    if status != PROPOSED:
        return f"Plan cycle {cycle:%Y-%m}: its latest version, {latest}, is {status}."
    counts = {t: _count_version(conn, t, cycle, latest) for t in db.PLAN_TABLES}
    return Published(cycle, latest, approved_version(conn, cycle), counts).describe() + "."


def _count_version(conn, table: str, cycle: date, version: int) -> int:
    return conn.execute(db.statement("version_count", table=f"{SCHEMA}.{table}"),
                        {"c": cycle, "v": version}).fetchall()[0][0]


def _list(known: dict[int, str]) -> str:
    return ", ".join(f"{v} ({s})" for v, s in sorted(known.items()))


def no_cycle(conn, cycle: date) -> SopError:
    cycles = [f"{c:%Y-%m}" for c, *_ in conn.execute(db.sql_text("published_cycles")).fetchall()]
    return SopError(f"Plan cycle {cycle:%Y-%m} has not been published in this database", where="--cycle",
                    fix=("Choose a published cycle: " + ", ".join(cycles)) if cycles
                    else "Run `sop-pipeline run` for it first")
