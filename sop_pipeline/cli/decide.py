"""`sop-pipeline decide`: record the meeting's decision on an exception (accepted, mitigated with a scenario,
deferred) or on a scenario (rejected, deferred) in sop.decisions; the report shows what is still open.

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
from sop_pipeline.common.errors import SopError
from sop_pipeline.store import decisions


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "decide", help="record a decision on an exception or a scenario of a cycle (sop.decisions)",
        description="Record the meeting's decision on one exception of sop.exceptions (its number in the report's "
                    "Decisions needed, or its exception_key) or on a scenario. Open and deferred exceptions are "
                    "carried forward into the next cycle's exceptions.")
    add_database_argument(parser)
    add_cycle_argument(parser)
    parser.add_argument("--exception", metavar="N|KEY", help="the exception: its number in the report, or its key")
    parser.add_argument("--decision", required=True,
                        choices=sorted(set(decisions.EXCEPTION_DECISIONS + decisions.SCENARIO_DECISIONS)),
                        help="exceptions: accepted, mitigated (with --scenario), deferred; scenarios: rejected, deferred")
    parser.add_argument("--scenario", metavar="NAME",
                        help="with --exception: the scenario that mitigates it; alone: the scenario decided on")
    add_decided_by_arguments(parser, "who decides")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    cycle = parse_cycle(args.cycle)
    if args.exception is None and args.scenario is None:
        raise SopError("decide needs what was decided on", where="decide",
                       fix="Give --exception N (its number in the report's Decisions needed) or --scenario NAME")
    db_path = existing_plan_database(args)
    with plan_database(db_path, f"decide {cycle:%Y-%m}") as conn:
        if args.exception is not None:
            row = decisions.decide_exception(conn, cycle, args.exception, args.decision, args.by, args.note,
                                             args.scenario)
            text = (f"Recorded: exception {row['number']} of plan cycle {cycle:%Y-%m} ({row['exception_key']}) "
                    f"{args.decision}" + (f" with scenario {args.scenario}" if args.scenario else ""))
        else:
            decisions.decide_scenario(conn, cycle, args.scenario, args.decision, args.by, args.note)
            text = f"Recorded: scenario {args.scenario} of plan cycle {cycle:%Y-%m} {args.decision}"
        report = refresh_report(conn, db_path, cycle)
    print(f"{text} (by {args.by.strip()}). Report: {report}")
    return 0
