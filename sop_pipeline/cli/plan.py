"""`sop-pipeline plan`: solve one stand-alone aggregate-planning problem and print the plan.

`register(subparsers)` adds the sub-command to the main parser; `run(args)` returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.config.problem import load_problem
from sop_pipeline.supply.diagnose import fmt
from sop_pipeline.supply.result import COST_COLUMNS, STRATEGIES, PlanResult

# Columns of the readable table (the JSON has them all).
_TABLE = [("period", "Period"), ("demand", "Demand"), ("workforce", "Workers"), ("hires", "Hired"),
          ("layoffs", "Laid off"), ("regular_units", "Regular"), ("overtime_units", "Overtime"),
          ("subcontract_units", "Subcontract"), ("ending_inventory", "Inventory"), ("backlog", "Backlog"),
          ("idle_hours", "Idle hours"), ("total_cost", "Cost")]


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plan", help="solve one aggregate-planning problem (level, chase, optimal)",
        description="Solve a stand-alone aggregate-planning problem file and print the plan and its costs.")
    parser.add_argument("--problem", required=True, metavar="FILE", help="problem file (YAML or JSON)")
    parser.add_argument("--strategy", choices=[*STRATEGIES, "all"], default="all",
                        help="which plan to make (default: all three)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(func=run)
    return parser


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _print_tables(results: dict[str, PlanResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output gets a fixed, wide layout rather than rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    for strategy, result in results.items():
        table = Table(title=f"{strategy} plan", title_justify="left")
        for key, header in _TABLE:
            table.add_column(header, justify="left" if key == "period" else "right")
        for row in result.periods.to_dict(orient="records"):
            table.add_row(*[str(row[k]) if k == "period" else _money(row[k]) if k == "total_cost" else fmt(row[k])
                            for k, _ in _TABLE])
        console.print(table)
        parts = ", ".join(f"{c.removesuffix('_cost').replace('_', ' ')} {_money(v)}"
                          for c, v in result.cost_breakdown.items() if v)
        gap = result.solver.get("mip_gap")
        console.print(f"[bold]Total cost {_money(result.total_cost)}[/bold] ({parts}); "
                      f"units short {fmt(result.units_short)}"
                      + (f"; safety-stock penalty {_money(result.safety_stock_penalty)}"
                         if result.safety_stock_penalty else "")
                      + f"; workforce {fmt(result.periods['workforce'].iloc[-1])} at the end"
                      + (f"; minimises cash + safety-stock penalty, gap reached {gap:.1e}"
                         if strategy == "optimal" and gap is not None else ""))
        console.print()
    if len(results) > 1:
        summary = Table(title="strategy comparison", title_justify="left")
        summary.add_column("Strategy")
        for col in [*COST_COLUMNS, "total_cost"]:
            summary.add_column(col.removesuffix("_cost").replace("_", " ") or col, justify="right")
        best = min(results, key=lambda s: results[s].total_cost)
        for strategy, result in results.items():
            values = [*result.cost_breakdown.values(), result.total_cost]
            summary.add_row(strategy + ("*" if strategy == best else ""), *[_money(v) for v in values])
        summary.columns[-1].header = "total"
        console.print(summary)
        console.print("* least total cost")


def _print_impossible(impossible: dict[str, PlanningError]) -> None:
    from rich.console import Console

    console = Console(stderr=False) if sys.stdout.isatty() else Console(width=160)
    for strategy, error in impossible.items():
        console.print(f"[bold]{strategy} plan[/bold]: impossible. {error.message}", highlight=False)
        console.print()


def run(args: argparse.Namespace) -> int:
    """Solve and print; a SopError propagates to `sop_pipeline.cli.main`, which prints it as one paragraph.

    With `--strategy all` a strategy that is impossible for the problem is reported in its place and
    the others are still planned (exit 0); only when none can be planned is it exit 3."""
    # CVXPY loads here, not when the parser is built, so `sop-pipeline run` reports a bad setting at once.
    from sop_pipeline.supply.strategies import plan

    problem = load_problem(args.problem)
    strategy = getattr(args, "strategy", "all") or "all"
    if strategy != "all":
        results, impossible = {strategy: plan(problem, strategy)}, {}
    else:
        results, impossible = {}, {}
        for name in STRATEGIES:
            try:
                results[name] = plan(problem, name)
            except PlanningError as exc:
                impossible[name] = exc
    if args.json:
        body = {name: ({**results[name].to_dict(), "starting_workforce": problem.workforce.initial}
                       if name in results else
                       {"status": "infeasible", "reason": impossible[name].message,
                        "starting_workforce": problem.workforce.initial})
                for name in (STRATEGIES if strategy == "all" else [strategy])}
        print(json.dumps(body, indent=2))
    else:
        _print_tables(results)
        _print_impossible(impossible)
    return 0 if results else PlanningError.exit_code
