"""`sop-pipeline`: run the monthly cycle, solve a planning problem, open the Dagster UI."""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sop_pipeline.common.errors import SettingsError, SopError
from sop_pipeline.common.resources import DAGSTER_INSTANCE_YAML
from sop_pipeline.config.loading import DEFAULT_DB, DEMO_SETTINGS, load_settings

JOB_NAME = "sop_monthly_cycle"
_ERROR_CLASSES = {"SopError", "InputDataError", "SettingsError", "PlanningError"}

out = Console()
err = Console(stderr=True)


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME (default `.dagster/` in the current folder) with the project's instance settings."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(DAGSTER_INSTANCE_YAML, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def parse_cycle(text: str) -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-01)?", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise SettingsError(f"--cycle {text!r} is not a month", fix="Write the plan cycle as YYYY-MM, e.g. 2026-11")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _error_from_chain(error) -> tuple[str, int] | None:
    """The user-facing message of a SopError somewhere in a Dagster error chain."""
    while error is not None:
        if error.cls_name in _ERROR_CLASSES:
            message = error.message.strip()
            message = re.sub(rf"^(sop_pipeline\.errors\.)?{error.cls_name}:\s*", "", message)
            return message, (3 if error.cls_name == "PlanningError" else 2)
        error = error.cause or getattr(error, "context", None)
    return None


def explain_failure(result) -> tuple[str, int]:
    """One paragraph saying why a run failed, in the planner's words, and the exit code."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                description = evaluation.description or evaluation.check_name
                return (f"The data check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} "
                        f"failed: {description}. Nothing was published; the previous plan is unchanged. "
                        "Fix the input and run again."), 2
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            found = _error_from_chain(error)
            if found:
                message, code = found
                return f"{message} Nothing was published; the previous plan is unchanged.", code
            return (f"Step {event.step_key} failed unexpectedly: {error.message.strip().splitlines()[-1]} "
                    f"(run {result.run_id}; open `sop-pipeline ui` for the full log). "
                    "Nothing was published; the previous plan is unchanged."), 1
    return f"The run {result.run_id} did not succeed. Nothing was published.", 1


def cmd_run(args) -> int:
    config_path = Path(args.config) if args.config else DEMO_SETTINGS
    settings = load_settings(config_path)
    from sop_pipeline.demand import check_planner_files

    check_planner_files(settings)
    if args.cycle:
        cycle = parse_cycle(args.cycle)
    else:
        from sop_pipeline.ingest.load import default_cycle

        cycle = default_cycle(settings)
    if settings.forecast.executor == "local" and settings.forecast.resolved_workers() > 1:
        from sop_pipeline.forecasting.executor import prewarm

        prewarm(settings.forecast.resolved_workers())
    db_path = Path(args.db or DEFAULT_DB).resolve()
    os.environ["SOP_CONFIG"] = str(config_path.resolve())
    os.environ["SOP_DB"] = str(db_path)
    ensure_dagster_home()

    import dagster as dg

    from sop_pipeline.definitions import defs
    from sop_pipeline.defs.partitions import plan_cycles

    known = plan_cycles.get_partition_keys()
    if cycle.isoformat() not in known:
        raise SettingsError(f"The plan cycle {cycle:%Y-%m} is outside the cycles this project plans "
                            f"({known[0][:7]} to {known[-1][:7]})", where="--cycle or the sales history's last month",
                            fix="Pass --cycle with a month in that range")
    out.print(f"[bold]sop-pipeline[/bold]: plan cycle [cyan]{cycle:%Y-%m}[/cyan], settings {config_path}, "
              f"database {db_path}, Dagster home {os.environ['DAGSTER_HOME']}")
    job = defs.resolve_job_def(JOB_NAME)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=cycle.isoformat(),
            instance=instance,
            raise_on_error=False,
            run_config={
                "loggers": {"console": {"config": {"log_level": args.log_level}}},
                # Explicit here because `defs` may have been imported before these paths were known.
                "resources": {"sop_settings": {"config": {"config_path": os.environ["SOP_CONFIG"]}},
                              "database": {"config": {"database": os.environ["SOP_DB"]}}},
            },
            tags={"sop/trigger": "cli"},
        )
    if not result.success:
        message, code = explain_failure(result)
        err.print(f"[bold red]Error:[/bold red] {message}", highlight=False, soft_wrap=True)
        return code
    _print_summary(db_path, cycle, result.run_id)
    return 0


def _print_summary(db_path: Path, cycle: date, run_id: str) -> None:
    from sop_pipeline.store import db
    conn = db.connect(db_path, read_only=True)
    try:
        table = Table(title=f"Published plan cycle {cycle:%Y-%m} (run {run_id[:8]})")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name in db.PLAN_TABLES:
            rows = conn.execute(f"SELECT count(*) FROM sop.{name} WHERE plan_cycle = $c", {"c": cycle}).fetchall()[0][0]
            table.add_row(f"sop.{name}", f"{rows:,}")
    finally:
        conn.close()
    out.print(table)
    report = db_path.parent / "reports" / f"sop_report_{cycle:%Y-%m}.html"
    if report.exists():
        out.print(f"Executive report: {report}")
    out.print(f"Read-only copy for SQL readers: {db.snapshot_path(db_path)}")


def cmd_ui(args) -> int:
    home = ensure_dagster_home()
    if args.config:
        os.environ["SOP_CONFIG"] = str(Path(args.config).resolve())
    if args.db:
        os.environ["SOP_DB"] = str(Path(args.db).resolve())
    command = [sys.executable, "-m", "dagster", "dev", "-m", "sop_pipeline.definitions",
               "--host", args.host, "--port", str(args.port)]
    out.print(f"Dagster UI on http://{args.host}:{args.port} (instance {home}); Ctrl-C stops it.")
    return subprocess.call(command)


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error style: usage, then one 'Error:' paragraph, exit code 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        err.print(f"[bold red]Error:[/bold red] {message}. See `{self.prog} --help`.", highlight=False,
                  soft_wrap=True)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sop-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize the whole monthly graph for one plan cycle")
    run.add_argument("--config", help="settings file (default: the demo's assets/demo/sop.yaml)")
    run.add_argument("--db", help=f"DuckDB file (default: {DEFAULT_DB})")
    run.add_argument("--cycle", help="plan cycle YYYY-MM (default: the month after the last month of sales)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                     help="how much of the run's log to show (default INFO)")
    run.set_defaults(func=cmd_run)

    from sop_pipeline.cli import plan as planning_cli
    from sop_pipeline.cli import what_if as what_if_cli

    planning_cli.register(sub)
    what_if_cli.register(sub)

    ui = sub.add_parser("ui", help="start the Dagster UI for this project")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--config", help="settings file the UI's runs use")
    ui.add_argument("--db", help="DuckDB file the UI's runs use")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SopError as exc:
        err.print(f"[bold red]Error:[/bold red] {exc.message}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("Interrupted; nothing was published.")
        return 130


def entry() -> None:
    """The console script: `main`, then exit without the interpreter's final garbage collection."""
    code = main()
    # With Dagster, Great Expectations and CVXPY loaded, that last collection walks every object
    # for 1-2 s after the work is done; connections and files are closed by now, so skip it.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
