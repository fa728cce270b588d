"""`sop-pipeline adopt`: make a scenario the cycle's plan, a new approved version whose every table is the
scenario's, published atomically under the run lock; the report says what it changed against the base.

`register(subparsers)` adds the sub-command; `run(args)` returns the exit code.
"""

from __future__ import annotations

import argparse

from sop_pipeline.cli.approve import plan_database, refresh_report
from sop_pipeline.cli.arguments import (
    add_cycle_argument,
    add_database_argument,
    add_decided_by_arguments,
    existing_plan_database,
    parse_cycle,
)


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "adopt", help="make a scenario the cycle's plan (a new approved version of every table)",
        description="Plan the scenario again exactly as a run plans the cycle and publish every table (demand, "
                    "production, inventory, operating and capacity plans, budget gap, exceptions) as a new version "
                    "of the cycle, approved, so sop.* shows it. The version it was planned from is kept.")
    add_database_argument(parser)
    add_cycle_argument(parser)
    parser.add_argument("--scenario", required=True, metavar="NAME", help="a scenario of the cycle's settings")
    add_decided_by_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from sop_pipeline.meeting.adoption import adopt

    cycle = parse_cycle(args.cycle)
    db_path = existing_plan_database(args)
    with plan_database(db_path, f"adopt {args.scenario}") as conn:
        published, adopted, base_version = adopt(conn, cycle, args.scenario, args.by, args.note, log=print)
        report = refresh_report(conn, db_path, cycle)
    print(f"Adopted scenario {adopted.scenario.name} as version {published.version} of plan cycle {cycle:%Y-%m} "
          f"(approved, by {args.by.strip()}; planned from version {base_version}, which is kept in sop_versions). "
          f"Report: {report}")
    return 0
