"""`sop-pipeline`: run the monthly cycle, solve a planning problem, open the Dagster UI."""

from __future__ import annotations

import argparse
import ast
import gc
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

from sop_pipeline.common.errors import SopError
from sop_pipeline.common.resources import CONFIG_ENV, DAGSTER_INSTANCE_YAML, DATABASE_ENV, DEFAULT_DB, DEMO_SETTINGS

# Imports are kept in the commands that need them: `--help` answers without loading pydantic's
# settings schema, Rich, Polars or a sub-command's solvers (about 0.1 s instead of 2-4 s).
_consoles: dict = {}


def _console(name: str):
    """The Rich console `out` or `err`, made on first use (Rich costs ~0.1 s to import)."""
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "err")
    return _consoles[name]


def __getattr__(name: str):  # `cli.out` and `cli.err`, as before
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _say(text: str) -> None:
    _console("out").print(text, soft_wrap=True, highlight=False)


def print_error(message: str) -> None:
    """The one paragraph of a failure, on stderr (the message printed as is: no markup in it)."""
    from rich.text import Text

    _console("err").print(Text.assemble(("Error:", "bold red"), " ", message), soft_wrap=True)


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME (default `.dagster/` in the current folder) with the project's instance settings."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(DAGSTER_INSTANCE_YAML, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def cmd_run(args) -> int:
    from sop_pipeline.cli.arguments import parse_cycle
    from sop_pipeline.cli.progress import explain_failure, run_log_path, run_logging
    from sop_pipeline.common.months import add_months
    from sop_pipeline.config.loading import load_settings
    from sop_pipeline.store.lock import run_lock

    config_path = Path(args.config) if args.config else DEMO_SETTINGS
    db_path = Path(args.db or DEFAULT_DB).resolve()
    from sop_pipeline.store.opening import check_plan_database  # DuckDB: loaded when a run starts

    check_plan_database(db_path)  # a damaged or foreign --db file stops here, before any work
    settings = load_settings(config_path)
    from sop_pipeline.demand import check_planner_files

    check_planner_files(settings)
    from sop_pipeline.ingest.load import check_cycle, sales_month_range

    first_month, last_month = sales_month_range(settings, required=not args.cycle)
    cycle = parse_cycle(args.cycle) if args.cycle else add_months(last_month, 1)
    os.environ[CONFIG_ENV] = str(config_path.resolve())
    os.environ[DATABASE_ENV] = str(db_path)
    ensure_dagster_home()

    import dagster as dg

    from sop_pipeline.definitions import defs
    from sop_pipeline.defs.jobs import JOB_NAME
    from sop_pipeline.defs.partitions import plan_cycles

    check_cycle(cycle, first_month, date.fromisoformat(plan_cycles.get_last_partition_key()))
    run_id = str(uuid.uuid4())
    log_path = run_log_path(db_path, cycle, run_id)
    _say(f"[bold]sop-pipeline[/bold]: plan cycle [cyan]{cycle:%Y-%m}[/cyan], settings {config_path}, "
         f"database {db_path}, Dagster home {os.environ['DAGSTER_HOME']}")

    def say_waiting(holder):
        _say(f"Waiting for {holder.describe() if holder else 'another run'} to finish with this database "
             "(--no-wait stops instead) ...")

    # One run at a time per database, held from here to the end (the run's database resource re-enters it).
    # The forecast's worker pool starts with the run (defs/resources.py, ForecastWorkers).
    with run_lock(db_path, run_id, wait=not args.no_wait, on_wait=say_waiting):
        # Worker processes start their own interpreters: keep their library warnings off the console too.
        os.environ["PYTHONWARNINGS"] = "ignore"
        _say(f"Run {run_id[:8]}, log {log_path}")
        with run_logging(log_path, args.log_level, _say) as run_logger, \
                dg.DagsterInstance.get() as instance:
            job = defs.resolve_job_def(JOB_NAME).with_logger_defs({"sop_run": run_logger})
            result = job.execute_in_process(
                partition_key=cycle.isoformat(),
                instance=instance,
                raise_on_error=False,
                run_id=run_id,
                run_config={"loggers": {"sop_run": {}}},
                tags={"sop/trigger": "cli"},
            )
        if not result.success:
            message, code = explain_failure(result, log_path)
            print_error(message)
            return code
        _print_summary(db_path, cycle, result.run_id)
    return 0


def _print_summary(db_path: Path, cycle: date, run_id: str) -> None:
    from rich.table import Table

    from sop_pipeline.report import report_path
    from sop_pipeline.store import db

    out = _console("out")
    conn = db.connect(db_path, read_only=True)
    try:
        table = Table()
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name in db.PLAN_TABLES:
            rows = db.count_cycle(conn, f"sop.{name}", cycle)
            table.add_row(f"sop.{name}", f"{rows:,}")
        skipped_note = conn.execute(db.sql_text("supply_skipped_note"), {"c": cycle}).fetchall()
        skipped_note = skipped_note[0][0] if skipped_note else None
        from sop_pipeline.store import versions

        version_note = versions.latest_publication(conn, cycle)
    finally:
        conn.close()
    _say(f"[bold]Published plan cycle {cycle:%Y-%m}[/bold] (run {run_id[:8]}):")
    out.print(table)
    if version_note:
        out.print(version_note, highlight=False, soft_wrap=True)
    if skipped_note:
        out.print(f"Supply planning skipped: {skipped_note}.", highlight=False)
    report = report_path(db_path, cycle)
    if report.exists():
        out.print(f"Executive report: {report}")
    out.print(f"Read-only copy for SQL readers: {db.snapshot_path(db_path)}")


def cmd_ui(args) -> int:
    home = ensure_dagster_home()
    os.environ[CONFIG_ENV] = str(Path(args.config or os.environ.get(CONFIG_ENV) or DEMO_SETTINGS).resolve())
    os.environ[DATABASE_ENV] = str(Path(args.db or os.environ.get(DATABASE_ENV) or DEFAULT_DB).resolve())
    command = [sys.executable, "-m", "dagster", "dev", "-m", "sop_pipeline.definitions",
               "--host", args.host, "--port", str(args.port)]
    _console("out").print(f"Dagster UI on http://{args.host}:{args.port} (instance {home}); Ctrl-C stops it.")
    return run_supervised(command)


STOP_GRACE_S = 20


def run_supervised(command: list[str]) -> int:
    """Run `command` (`dagster dev`) until it exits or this process gets SIGINT/SIGTERM; either way,
    nothing it started (webserver, daemon, code servers) outlives it.

    It runs in its own session, so a terminal's Ctrl-C reaches only this process, which forwards the
    signal to `dagster dev` (it shuts down its own children), waits, then kills what is left."""
    import psutil

    process = subprocess.Popen(command, start_new_session=True)
    started: dict[int, psutil.Process] = {}

    def remember_children() -> None:
        try:
            for child in psutil.Process(process.pid).children(recursive=True):
                started.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def forward(signum, _frame) -> None:
        remember_children()
        try:
            process.send_signal(signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = process.wait(timeout=2)
                break
            except subprocess.TimeoutExpired:
                remember_children()  # code servers come and go (reloads): keep track of all
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(process, list(started.values()))
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


def _stop_all(process: subprocess.Popen, children: list) -> None:
    """Terminate `process` and `children` that still run: SIGTERM, a grace period, then SIGKILL."""
    import psutil

    alive = [p for p in children if p.is_running()]
    if process.poll() is None:
        process.terminate()
    for child in alive:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(alive, timeout=STOP_GRACE_S)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error style: usage, then one 'Error:' paragraph, exit code 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        _console("err").print(f"[bold red]Error:[/bold red] {message}. See `{self.prog} --help`.", highlight=False,
                  soft_wrap=True)
        sys.exit(2)


# Sub-commands in their own modules, each with `register(subparsers)`; imported only when chosen.
COMMAND_MODULES = {"plan": "sop_pipeline.cli.plan", "init": "sop_pipeline.cli.init",
                   "what-if": "sop_pipeline.cli.what_if", "approve": "sop_pipeline.cli.approve",
                   "decide": "sop_pipeline.cli.decide", "adopt": "sop_pipeline.cli.adopt",
                   "export": "sop_pipeline.cli.export", "backfill": "sop_pipeline.cli.backfill"}


def _summary(module: str) -> str:
    """The first line of a sub-command module's docstring, read without importing the module."""
    spec = importlib.util.find_spec(module)
    source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
    first = (ast.get_docstring(ast.parse(source)) or "").split("\n", 1)[0]
    return first.split("`: ", 1)[-1].rstrip(".")


def _chosen_command(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None, *, all_commands: bool = False) -> argparse.ArgumentParser:
    """The command line. Only the chosen sub-command's module is imported (all with `all_commands`);
    the others are listed with their summary line, for `sop-pipeline --help`."""
    parser = _Parser(prog="sop-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize the whole monthly graph for one plan cycle")
    run.add_argument("--config", help="settings file (default: the demo's assets/demo/sop.yaml)")
    run.add_argument("--db", help=f"DuckDB file (default: {DEFAULT_DB})")
    run.add_argument("--cycle", help="plan cycle YYYY-MM (default: the month after the last month of sales)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                     help="how much of Dagster's log to write to the run's log file (default INFO)")
    run.add_argument("--no-wait", action="store_true",
                     help="stop at once (exit 4) if another run is using the database, instead of waiting for it")
    run.set_defaults(func=cmd_run)

    chosen = _chosen_command(argv)
    for name, module in COMMAND_MODULES.items():
        if all_commands or name == chosen:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=_summary(module))

    ui = sub.add_parser("ui", help="start the Dagster UI for this project")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--config", help="settings file the UI's runs use")
    ui.add_argument("--db", help="DuckDB file the UI's runs use")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    from sop_pipeline.cli.progress import hold_library_warnings  # light: no Rich, no Dagster

    hold_library_warnings()
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SopError as exc:
        print_error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        _console("err").print("Interrupted; nothing was published.")
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
