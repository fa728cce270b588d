"""`sop-pipeline approve`: the meeting approves one version of a cycle; sop.* shows it from then on.

`register(subparsers)` adds the sub-command; `run(args)` returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sop_pipeline.cli.arguments import (
    add_cycle_argument,
    add_database_argument,
    add_decided_by_arguments,
    existing_plan_database,
    parse_cycle,
)
from sop_pipeline.store import db
from sop_pipeline.store.lock import run_lock


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "approve", help="approve a version of a cycle's plan (default: the latest); sop.* shows it",
        description="Approve one version of a published cycle. The approved version becomes the plan in sop.* "
                    "and is never overwritten: a later run of the cycle is a new proposed version beside it.")
    add_database_argument(parser)
    add_cycle_argument(parser)
    parser.add_argument("--version", type=int, help="the version to approve (default: the latest)")
    add_decided_by_arguments(parser, "who approves (recorded in sop.decisions)")
    parser.set_defaults(func=run)
    return parser


@contextmanager
def plan_database(db_path: Path, what: str) -> Iterator:
    """A writable connection to an existing plan database (`existing_plan_database`), under its run lock
    (waits for a running cycle), then the published snapshot refreshed. For approve, adopt, decide."""

    def say_waiting(holder):
        sys.stderr.write(f"Waiting for {holder.describe() if holder else 'another run'} to finish with {db_path} ...\n")

    with run_lock(db_path, run_id=what, on_wait=say_waiting):
        conn = db.connect(db_path)
        try:
            db.ensure_schema(conn)
            yield conn
            db.write_published_snapshot(conn, db_path)
        finally:
            conn.close()


def refresh_report(conn, db_path: Path, cycle) -> Path:
    """The cycle's report rendered again from sop.* (what the meeting decided shows in it)."""
    from sop_pipeline.report import write_report

    return write_report(conn, db_path, cycle)


def run(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    from sop_pipeline.store import versions

    cycle = parse_cycle(args.cycle)
    db_path = existing_plan_database(args)
    with plan_database(db_path, f"approve {cycle:%Y-%m}") as conn:
        version, previous = versions.approve(conn, cycle, args.version, args.by, args.note)
        report = refresh_report(conn, db_path, cycle)
    text = f"Approved version {version} of plan cycle {cycle:%Y-%m} (by {args.by.strip()}); sop.* shows it"
    if previous is not None:
        text += f"; version {previous}, approved before, is superseded"
    say(text + f". Report: {report}")
    return 0
