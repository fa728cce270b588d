"""`sop-pipeline what-if`: re-plan a published cycle with changes given on the command line, beside the plan.

It reads the cycle's published demand plan, forecast, production plan and settings (from the read-only
snapshot `sop_published.duckdb` when there is one, so it never waits for a run), re-plans supply with the
changes (no re-forecast, no Dagster run) and prints the comparison. `--save NAME` publishes the what-if
as a scenario of that cycle in `sop.scenario_plan` and `sop.scenario_comparison`.

`register(subparsers)` adds the sub-command to the main parser; `run(args)` returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import yaml
from pydantic import ValidationError

from sop_pipeline.cli.arguments import parse_cycle
from sop_pipeline.common.errors import PlanningError, SettingsError, SopError
from sop_pipeline.config.base import format_loc
from sop_pipeline.config.loading import DEFAULT_DB
from sop_pipeline.config.preflight import BASE_SCENARIO
from sop_pipeline.config.schema import PlanningSettings, Scenario
from sop_pipeline.scenarios import compare
from sop_pipeline.scenarios import plan as scenario_plans
from sop_pipeline.store import db
from sop_pipeline.store.lock import run_lock
from sop_pipeline.supply.tables import ALL_FAMILIES

WHAT_IF = "what_if"  # the what-if's name in the comparison when it is not saved under one


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "what-if", help="re-plan a published cycle with changes and compare it with the plan",
        description="Re-plan supply for a published cycle from its published demand plan (no re-forecast) with "
                    "the changes given, and print the result beside the published plan.")
    parser.add_argument("--db", help=f"DuckDB file (default: {DEFAULT_DB}; read through its published snapshot)")
    parser.add_argument("--cycle", help="published plan cycle YYYY-MM (default: the latest published)")
    parser.add_argument("--demand", type=float, metavar="PERCENT", help="change planned units and revenue, e.g. 10")
    parser.add_argument("--family", nargs="+", action="extend", metavar="NAME",
                        help="families the demand change applies to (default: all)")
    parser.add_argument("--months", metavar="YYYY-MM..YYYY-MM", help="months the demand change applies to "
                                                                     "(default: the whole horizon)")
    parser.add_argument("--capacity", type=float, metavar="HOURS",
                        help="plant labour hours per month shared by all families (planning.shared_capacity)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                        help="a planning setting, e.g. defaults.production.max_overtime_hours_per_worker=0 or "
                             "families.Cookware.workforce.max=20 or strategy=chase (repeatable)")
    parser.add_argument("--save", metavar="NAME", help="publish the what-if as scenario NAME of the cycle")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(func=run)
    return parser


# ----------------------------------------------------------------------------------------------
# The what-if from the command line

def _set(overrides: dict, assignment: str) -> None:
    key, sep, text = assignment.partition("=")
    path = [p for p in key.strip().removeprefix("planning.").split(".") if p]
    if not sep or not path:
        raise SettingsError(f"--set {assignment!r} is not KEY=VALUE", where="--set",
                            fix="Write e.g. --set defaults.production.max_overtime_hours_per_worker=0")
    try:
        value = yaml.safe_load(text)  # numbers, null, true/false, lists and mappings as in sop.yaml
    except yaml.YAMLError:
        value = text
    node = overrides
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SettingsError(f"--set {assignment!r} sets a key inside {part}, which is set to a value",
                                where="--set", fix="Set each key once")
    node[path[-1]] = value


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The what-if as a scenario: demand changes and planning overrides, validated like sop.yaml's."""
    if args.demand is None and (args.family or args.months):
        raise SettingsError("--family and --months say where a demand change applies, but no --demand was given",
                            where="--family/--months", fix="Add --demand PERCENT, e.g. --demand 10")
    demand = ([{"family": family, "months": args.months, "percent": args.demand} for family in args.family or [None]]
              if args.demand is not None else [])
    planning: dict = {}
    if args.capacity is not None:
        planning["shared_capacity"] = args.capacity
    for assignment in args.settings or []:
        _set(planning, assignment)
    data = {"name": args.save or WHAT_IF, "description": describe(args), "demand": demand, "planning": planning}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        flags = {"name": "--save", "demand": "--demand/--family/--months", "planning": "--set/--capacity"}
        problems = [f"{flags.get(err['loc'][0], '')} {format_loc(err['loc'])}: {err['msg']}".strip()
                    for err in exc.errors()]
        raise SettingsError(f"The what-if has {len(problems)} problem(s)", problems=problems, where="command line",
                            fix="Correct these options and run again") from None


def describe(args: argparse.Namespace) -> str:
    """The what-if in the planner's words, e.g. 'demand +10% (Cookware, 2027-03..2027-05); capacity 9000 h'."""
    parts = []
    if args.demand is not None:
        where = ", ".join([*(args.family or []), *([args.months] if args.months else [])])
        parts.append(f"demand {args.demand:+g}%" + (f" ({where})" if where else ""))
    if args.capacity is not None:
        parts.append(f"shared capacity {args.capacity:,g} h")
    parts += list(args.settings or [])
    return "; ".join(parts) or "no change"


# ----------------------------------------------------------------------------------------------
# The published cycle

@dataclass
class PublishedCycle:
    cycle: date
    planning: PlanningSettings
    interval_width: float
    frames: dict[str, pl.DataFrame]


def read_published_cycle(conn, cycle: date | None, where: str) -> PublishedCycle:
    """A published cycle's planning settings (from `sop.plan_runs.settings_json`) and its input tables."""
    rows = conn.execute("SELECT plan_cycle, settings_json FROM sop.plan_runs "
                        "WHERE $c IS NULL OR plan_cycle = $c ORDER BY plan_cycle DESC LIMIT 1", {"c": cycle}).fetchall()
    if not rows:
        raise SopError(f"No published plan cycle {cycle:%Y-%m}" if cycle else "No plan cycle is published yet",
                       where=where, fix="Run `sop-pipeline run` for the cycle first, or pass --cycle of a published one")
    cycle, settings_json = rows[0]
    if settings_json is None:
        raise SopError(f"Plan cycle {cycle:%Y-%m} was published before what-if existed, without its settings",
                       where=f"{where}, sop.plan_runs", fix="Run that cycle again with `sop-pipeline run --cycle`")
    settings = json.loads(settings_json)
    if settings.get("planning") is None:
        raise SopError(f"Plan cycle {cycle:%Y-%m} has no planning section, so there is no supply plan to change",
                       where=where, fix="Add a planning section to sop.yaml and run the cycle again")
    return PublishedCycle(cycle, PlanningSettings.model_validate(settings["planning"]),
                          float(settings["forecast"]["interval_width"]),
                          {t: db.read_cycle(conn, t, cycle, schema="sop", small=True) for t in scenario_plans.INPUT_TABLES})


def what_if(published: PublishedCycle, scenario: Scenario) -> tuple[list, pl.DataFrame]:
    """The base plan and the what-if, and their comparison."""
    f = published.frames
    outcomes = scenario_plans.plan_cycle_scenarios([scenario], f["demand_plan"], f["forecast"], f["forecast_accuracy"],
                                                   f["production_plan"], published.planning, published.interval_width)
    return outcomes, compare.comparison_frame(outcomes)


def save(db_path: Path, cycle: date, name: str, outcomes: list, comparison: pl.DataFrame) -> Path:
    """Publish the what-if as scenario `name` of the cycle and refresh the published snapshot."""
    saved = [o for o in outcomes if o.name == name]
    # The database's run lock, as a cycle run takes it: a save waits for a running cycle (saying so), and a
    # cycle started meanwhile waits for the save.
    def say_waiting(holder):
        sys.stderr.write(f"Waiting for {holder.describe() if holder else 'another run'} to finish with {db_path} ...\n")

    with run_lock(db_path, run_id=f"what-if {name}", on_wait=say_waiting):
        try:
            conn = db.connect(db_path)
        except duckdb.IOException as exc:
            raise SopError(f"The plan database is busy, so the what-if was not saved ({exc})", where=str(db_path),
                           fix="Save it again once the running cycle has published") from None
        try:
            db.ensure_schema(conn)
            db.publish_scenario(conn, cycle, name, scenario_plans.plan_frame(saved),
                                comparison.filter(pl.col("scenario") == name))
            return db.write_published_snapshot(conn, db_path)
        finally:
            conn.close()


# ----------------------------------------------------------------------------------------------
# Output

def _kpis(row: dict | None) -> dict:
    return {k: (None if row is None or row[k] is None or (isinstance(row[k], float) and math.isnan(row[k]))
                else float(row[k])) for k in compare.KPIS}


def json_body(cycle: date, comparison: pl.DataFrame, name: str) -> dict:
    """`{"cycle", "base": {KPI: value}, "what_if": {KPI: value}, "by_family": {FAMILY: {"base", "what_if"}}}`."""
    rows = {(r["scenario"], r["family"]): r for r in comparison.iter_rows(named=True)}
    families = [f for s, f in rows if s == BASE_SCENARIO and f != ALL_FAMILIES]
    return {
        "cycle": f"{cycle:%Y-%m}",
        "base": _kpis(rows.get((BASE_SCENARIO, ALL_FAMILIES))),
        "what_if": _kpis(rows.get((name, ALL_FAMILIES))),
        "by_family": {f: {"base": _kpis(rows.get((BASE_SCENARIO, f))), "what_if": _kpis(rows.get((name, f)))}
                      for f in families},
    }


_PERCENT = {"fill_rate", "peak_capacity_utilization"}
_FAMILY_COLUMNS = ("planned_units", "total_cost", "gross_margin", "units_short", "peak_headcount", "overtime_hours",
                   "peak_capacity_utilization")


def _value(kpi: str, value, change: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kpi in _PERCENT:
        return f"{100 * value:+.1f} pt" if change else f"{100 * value:.1f}%"
    return f"{value:+,.0f}" if change else f"{value:,.0f}"


def print_tables(body: dict, description: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=160)
    total = Table(title=f"What-if for plan cycle {body['cycle']}: {description}", title_justify="left")
    for header in ("KPI", "published plan", "what-if", "change"):
        total.add_column(header, justify="left" if header == "KPI" else "right")
    for kpi in compare.KPIS:
        base, new = body["base"][kpi], body["what_if"][kpi]
        change = None if base is None or new is None else new - base
        total.add_row(kpi.replace("_", " "), _value(kpi, base), _value(kpi, new), _value(kpi, change, change=True))
    console.print(total)
    families = Table(title="By family (what-if, change against the published plan)", title_justify="left")
    families.add_column("family")
    for kpi in _FAMILY_COLUMNS:
        families.add_column(kpi.replace("_", " "), justify="right")
    for family, both in body["by_family"].items():
        cells = []
        for kpi in _FAMILY_COLUMNS:
            base, new = both["base"][kpi], both["what_if"][kpi]
            change = None if base is None or new is None else new - base
            cells.append(f"{_value(kpi, new)} ({_value(kpi, change, change=True)})" if new is not None else "—")
        families.add_row(family, *cells)
    console.print(families)


def run(args: argparse.Namespace) -> int:
    """Re-plan, print, optionally save; a SopError propagates to `sop_pipeline.cli.main` (one paragraph)."""
    db_path = Path(args.db or DEFAULT_DB).resolve()
    cycle = parse_cycle(args.cycle) if args.cycle else None
    scenario = scenario_from_args(args)
    # An unsaved what-if reads the published snapshot: it never waits for a run. A save reads and writes
    # the working database, so what it saves is planned from what is published there.
    source = db.snapshot_path(db_path) if not args.save and db.snapshot_path(db_path).exists() else db_path
    if not source.exists():
        raise SopError("The plan database does not exist", where=str(db_path),
                       fix="Run `sop-pipeline run` first, or pass --db with your plan database")
    from sop_pipeline.store.opening import check_plan_database

    check_plan_database(source)  # a damaged or foreign file: said before any planning
    if source != db_path and db_path.exists():
        check_plan_database(db_path)
    conn = db.connect(source, read_only=True)
    try:
        published = read_published_cycle(conn, cycle, str(source))
    finally:
        conn.close()
    outcomes, comparison = what_if(published, scenario)
    body = json_body(published.cycle, comparison, scenario.name)
    planned = outcomes[-1].plan is not None
    if args.json:
        print(json.dumps(body, indent=2))  # an impossible what-if: its KPIs are null, the reason follows on stderr
    elif planned:
        print_tables(body, scenario.description)
    if args.save:
        snapshot = save(db_path, published.cycle, scenario.name, outcomes, comparison)
        (sys.stderr if args.json else sys.stdout).write(
            f"Saved as scenario {scenario.name!r} of plan cycle {published.cycle:%Y-%m} in {db_path} "
            f"(sop.scenario_plan, sop.scenario_comparison; snapshot {snapshot}).\n")
    if not planned:
        raise PlanningError(f"The what-if has no plan: {outcomes[-1].reason}",
                            where=f"plan cycle {published.cycle:%Y-%m}",
                            fix="Loosen the change (capacity, workforce limits) and try again")
    return 0
