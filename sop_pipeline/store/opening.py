"""Before a run writes into a `--db` file: is it a plan database (or nothing yet)?

A bad copy, a full disk or a wrong path leaves a file that is not a DuckDB database, or a DuckDB file of
someone else's (no `sop.plan_runs`) that a run would fill with its own schemas. Either is found here, before
any work, and said in the planner's words (exit 2), naming the published snapshot beside it where there is
one, since that still holds the last plan.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from sop_pipeline.common.errors import DatabaseFileError
from sop_pipeline.store import db

# A DuckDB database file's header: a checksum (8 bytes), then the magic bytes "DUCK".
_MAGIC, _MAGIC_AT = b"DUCK", 8
# The table every plan database has (sql/create_tables.sql), checked to tell a plan database from another.
_MARK = ("sop", "plan_runs")


def check_plan_database(path: str | Path) -> None:
    """Raise DatabaseFileError if `path` exists and is not a plan database a run may write into."""
    path = Path(path)
    if not path.exists():
        return  # a new database: the run creates it
    if path.is_dir():
        _refuse(path, "is a folder, not a DuckDB database file", "Pass --db with a file name (e.g. data/sop_plan.duckdb)")
    if path.stat().st_size == 0:
        return  # an empty file (touched, or created by a tool): DuckDB makes it a database
    with open(path, "rb") as fh:
        head = fh.read(_MAGIC_AT + len(_MAGIC))
    if head[_MAGIC_AT:] != _MAGIC:
        _refuse(path, "is not a DuckDB database (a damaged copy, a file written while the disk was full, or "
                      "another kind of file)", _RESTORE)
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            return  # in use by another run: the run lock waits for it, then the run opens it
        _refuse(path, f"is a damaged DuckDB database (DuckDB cannot open it: {str(exc).splitlines()[0][:160]})",
                _RESTORE)
    try:
        tables = set(conn.execute(db.sql_text("tables_present")).fetchall())
    except duckdb.Error as exc:
        _refuse(path, f"is a damaged DuckDB database ({str(exc).splitlines()[0][:160]})", _RESTORE)
    finally:
        conn.close()
    if tables and _MARK not in tables:
        names = ", ".join(f"{s}.{t}" for s, t in sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
        _refuse(path, f"is a DuckDB database without sop-pipeline's tables (it holds {names}; no sop.plan_runs): "
                      "the run would write its schemas into someone else's database",
                "Pass --db with the plan database's path, or a new file name to start a new one")


_RESTORE = ("Restore the file from a backup, or move it aside and run again to start a new plan database "
            "(pass --db with another file name to keep it)")


def _refuse(path: Path, what: str, fix: str) -> None:
    snapshot = db.snapshot_path(path)
    if snapshot.is_file() and _is_duckdb(snapshot):
        fix += (f". The published snapshot beside it, {snapshot}, still holds the last plan (readers can keep "
                "using it; copying it to the database's name restores the published plans)")
    raise DatabaseFileError(f"The plan database {path} (--db) {what}", fix=fix)


def _is_duckdb(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(_MAGIC_AT + len(_MAGIC))[_MAGIC_AT:] == _MAGIC
