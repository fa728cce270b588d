"""`sop-pipeline export --xlsx FILE`: the planner's workbook of a published cycle (meeting/workbook.py).

`register(subparsers)` adds the sub-command; `run(args)` returns the exit code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sop_pipeline.cli.arguments import add_cycle_argument, add_database_argument, existing_plan_database, parse_cycle
from sop_pipeline.common.errors import SopError
from sop_pipeline.store import db

TABLES = ("demand_plan", "production_plan", "inventory_plan", "capacity_plan", "scenario_comparison", "budget_gap",
          "plan_runs")


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="write the planner's workbook (.xlsx) of a published cycle",
        description="Write one workbook for the meeting: decisions needed, demand plan, supply plan per strategy, "
                    "inventory, capacity, scenarios side by side, budget gap, and an Adjustments sheet (the first) "
                    "pre-filled for the next cycle, which `adjustments: FILE.xlsx` in sop.yaml reads as it is.")
    add_database_argument(parser, read_through_snapshot=True)
    add_cycle_argument(parser)
    parser.add_argument("--xlsx", required=True, metavar="FILE", help="the workbook to write (.xlsx)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from sop_pipeline.meeting import workbook
    from sop_pipeline.store import decisions, versions

    cycle = parse_cycle(args.cycle)
    target = Path(args.xlsx)
    if target.suffix.lower() != ".xlsx":
        raise SopError(f"--xlsx {target} does not end in .xlsx", where="--xlsx", fix="Name the workbook FILE.xlsx")
    db_path = existing_plan_database(args, fix="Give the database a cycle was published into with --db")
    # The snapshot: a reader that never waits for a run (it holds the same published tables).
    source = db.snapshot_path(db_path) if db.snapshot_path(db_path).exists() else db_path
    conn = db.connect(source, read_only=True)
    try:
        if versions.shown_version(conn, cycle) is None:
            raise versions.no_cycle(conn, cycle)
        frames = {t: db.read_cycle(conn, t, cycle, schema="sop") for t in TABLES}
        numbered = decisions.exception_decisions(conn, cycle) if source == db_path else None
    finally:
        conn.close()
    if numbered is None:  # the decision log is in the plan database, not the snapshot
        conn = db.connect(db_path, read_only=True)
        try:
            numbered = decisions.exception_decisions(conn, cycle)
        finally:
            conn.close()
    settings = json.loads(frames["plan_runs"]["settings_json"][0] or "{}")
    horizon = int(settings.get("forecast", {}).get("horizon_months") or frames["demand_plan"]["month"].n_unique())
    book = workbook.sheets(frames, numbered, cycle, horizon)
    path = workbook.write_workbook(target, book, f"S&OP plan cycle {cycle:%Y-%m}")
    print(f"Wrote {path}: " + ", ".join(f"{name} ({frame.height:,} rows)" for name, frame in book.items()))
    print(f"For the next cycle, edit sheet {workbook.ADJUSTMENTS_SHEET!r} and set `adjustments: {path}` in sop.yaml.")
    return 0
