"""Command-line values every sub-command reads the same way."""

from __future__ import annotations

from datetime import date

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.common.months import parse_month


def parse_cycle(text: str) -> date:
    """`--cycle YYYY-MM` as the first day of that month."""
    cycle = parse_month(text)
    if cycle is None:
        raise SettingsError(f"--cycle {text!r} is not a month", fix="Write the plan cycle as YYYY-MM, e.g. 2026-11")
    return cycle


def add_database_argument(parser, read_through_snapshot: bool = False) -> None:
    """`--db PATH` (default: the demo's plan database)."""
    from sop_pipeline.common.resources import DEFAULT_DB

    suffix = "; read through its published snapshot" if read_through_snapshot else ""
    parser.add_argument("--db", help=f"DuckDB file (default: {DEFAULT_DB}{suffix})")


def add_cycle_argument(parser) -> None:
    parser.add_argument("--cycle", required=True, help="plan cycle YYYY-MM")


def add_decided_by_arguments(parser, who: str = "who decides (recorded in sop.decisions)") -> None:
    """`--by NAME` (required) and `--note TEXT`, what the decision log records of a meeting's decision."""
    parser.add_argument("--by", required=True, metavar="NAME", help=who)
    parser.add_argument("--note", metavar="TEXT", help="a note for the decision log")


def existing_plan_database(args, fix: str = "Give the database a cycle was published into with --db, "
                                             "or run `sop-pipeline run` first"):
    """The resolved `--db` path of a command that reads or changes published cycles: it must exist and be a
    plan database (a damaged or foreign file is refused before any work, store/opening.py)."""
    from pathlib import Path

    from sop_pipeline.common.errors import SopError
    from sop_pipeline.common.resources import DEFAULT_DB
    from sop_pipeline.store.opening import check_plan_database

    db_path = Path(args.db or DEFAULT_DB).resolve()
    if not db_path.exists():
        raise SopError(f"There is no plan database at {db_path}", where="--db", fix=fix)
    check_plan_database(db_path)
    return db_path
