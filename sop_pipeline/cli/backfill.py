"""`sop-pipeline backfill --from YYYY-MM --to YYYY-MM`: replay past cycles on the history as it stood before
each one, so a new user has a track record (forecast value added, the demand waterfall, KPIs) at once."""

from __future__ import annotations

import os
import time
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from sop_pipeline.track_record import backfill as core

# The report of a past cycle is not read by anyone; the newest cycle's report is written again at the end,
# with the track record the backfill has made.
SKIPPED_ASSETS = (("sop", "executive_report"),)


def register(sub) -> None:
    parser = sub.add_parser("backfill", help="replay past plan cycles on the history as it stood before each one")
    parser.add_argument("--from", dest="start", required=True, help="first cycle to replay, YYYY-MM")
    parser.add_argument("--to", dest="end", required=True,
                        help="last cycle to replay, YYYY-MM (at most the last month of sales)")
    parser.add_argument("--config", help="settings file (default: the demo's assets/demo/sop.yaml)")
    parser.add_argument("--db", help="DuckDB file (default: data/sop_plan.duckdb)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="how much of Dagster's log to write to each cycle's log file (default INFO)")
    parser.add_argument("--no-wait", action="store_true",
                        help="stop at once (exit 4) if another run is using the database")
    parser.add_argument("--no-fit-cache", action="store_true",
                        help="fit every backtest origin of every cycle again instead of reusing the origins "
                             "an earlier cycle of this backfill fitted on the same history (the same tables, slower)")
    parser.set_defaults(func=cmd_backfill)


def published_cycles(db_path: Path) -> dict[date, core.PublishedCycle]:
    """The cycles in `sop.plan_runs` of an existing database (none for a new file)."""
    if not db_path.exists():
        return {}
    from sop_pipeline.store import db

    conn = db.connect(db_path)
    try:
        db.ensure_schema(conn)
        rows = conn.execute(db.sql_text("backfill_published_cycles")).fetchall()
    finally:
        conn.close()
    return {cycle: core.PublishedCycle(cycle, kind or core.RUN, settings_hash) for cycle, kind, settings_hash in rows}


def cmd_backfill(args) -> int:
    from sop_pipeline.cli import _say, ensure_dagster_home, print_error
    from sop_pipeline.cli.progress import explain_failure, run_log_path, run_logging
    from sop_pipeline.config.loading import DEFAULT_DB, DEMO_SETTINGS, load_settings
    from sop_pipeline.demand import check_planner_files
    from sop_pipeline.ingest.load import sales_month_range
    from sop_pipeline.store.lock import run_lock

    first, last = core.parse_range(args.start, args.end)
    config_path = Path(args.config) if args.config else DEMO_SETTINGS
    settings = load_settings(config_path)
    check_planner_files(settings)
    first_sales, last_sales = sales_month_range(settings)
    db_path = Path(args.db or DEFAULT_DB).resolve()
    os.environ["SOP_CONFIG"] = str(config_path.resolve())
    os.environ["SOP_DB"] = str(db_path)
    ensure_dagster_home()
    backfill_id = str(uuid.uuid4())

    def say_waiting(holder):
        _say(f"Waiting for {holder.describe() if holder else 'another run'} to finish with this database "
             "(--no-wait stops instead) ...")

    # The whole backfill holds the run lock; each cycle's run re-enters it.
    with run_lock(db_path, backfill_id, wait=not args.no_wait, on_wait=say_waiting), ExitStack() as stack:
        plan = core.plan_backfill(first, last, first_sales, last_sales, published_cycles(db_path),
                                  settings.fingerprint())
        _say(f"[bold]sop-pipeline backfill[/bold]: cycles {first:%Y-%m}..{last:%Y-%m} ({len(plan.cycles)}), "
             f"settings {config_path}, database {db_path}")
        if plan.done:
            _say(f"Already backfilled with these settings: {plan.done[0]:%Y-%m}..{plan.done[-1]:%Y-%m} "
                 f"({len(plan.done)} cycle(s), kept)")
        if not plan.to_run:
            _say("Nothing left to replay.")
        import dagster as dg

        from sop_pipeline.definitions import defs
        from sop_pipeline.defs.jobs import JOB_NAME

        if plan.to_run and settings.forecast.executor == "local" and settings.forecast.resolved_workers() > 1:
            from sop_pipeline.forecasting.executor import prewarm

            prewarm(settings.forecast.resolved_workers())
        from sop_pipeline.forecasting.fit_cache import OriginCache, reusing_origins

        job = defs.resolve_job_def(JOB_NAME)
        selection = [key for key in job.asset_layer.executable_asset_keys
                     if tuple(key.path) not in SKIPPED_ASSETS]
        cache = None if args.no_fit_cache else OriginCache()
        # One in-memory Dagster instance for the whole backfill: a SQLite instance's event-log commits cost
        # ~28 s a demo cycle. The price: backfilled cycles are not in the UI's run list (their logs are files).
        instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        stack.enter_context(reusing_origins(cache))
        started = time.monotonic()
        for index, cycle in enumerate(plan.to_run, start=1):
            run_id = str(uuid.uuid4())
            log_path = run_log_path(db_path, cycle, run_id)
            cycle_started = time.monotonic()
            _say(f"  [{index}/{len(plan.to_run)}] cycle {cycle:%Y-%m}: planning on the sales before "
                 f"{cycle.isoformat()} (log {log_path})")
            try:
                with run_logging(log_path, args.log_level, lambda _text: None) as run_logger:
                    result = job.with_logger_defs({"sop_run": run_logger}).execute_in_process(
                        partition_key=cycle.isoformat(), instance=instance, raise_on_error=False, run_id=run_id,
                        run_config={"loggers": {"sop_run": {}}}, asset_selection=selection,
                        tags={"sop/trigger": "backfill", core.RUN_KIND_TAG: core.BACKFILL,
                              "sop/backfill_id": backfill_id})
            except KeyboardInterrupt:
                _say(f"Interrupted during cycle {cycle:%Y-%m}: it was not published; the {len(plan.done) + index - 1} "
                     "cycle(s) before it are. Run the same command again to resume.")
                return 130
            if not result.success:
                message, code = explain_failure(result, log_path, in_ui=False)
                print_error(f"Cycle {cycle:%Y-%m} could not be backfilled: {message}")
                kept = plan.done + plan.to_run[:index - 1]
                _say(f"Published and kept: {len(kept)} backfilled cycle(s)"
                     + (f", {kept[0]:%Y-%m}..{kept[-1]:%Y-%m}" if kept else "")
                     + f"; cycle {cycle:%Y-%m} and later are unchanged. Fix the cause and run the same command "
                       "again: it resumes at this cycle.")
                return code
            elapsed = time.monotonic() - started
            left = elapsed / index * (len(plan.to_run) - index)
            _say(f"  [green]✓[/green] [{index}/{len(plan.to_run)}] cycle {cycle:%Y-%m} published in "
                 f"{time.monotonic() - cycle_started:.0f} s" + _reused(cache)
                 + (f", about {left / 60:.1f} min left" if index < len(plan.to_run) else ""))
        _finish(db_path)
    return 0


def _reused(cache) -> str:
    """What the progress line says of the backtest fits a cycle took from earlier cycles of the backfill."""
    if cache is None:
        return ""
    count = cache.cycle_done()
    total = count.reused + count.fitted
    return (f" ({count.reused:,} of {total:,} backtest fits reused: {count.origins_reused} of "
            f"{count.origins_reused + count.origins_fitted} origins)") if total else ""


def _finish(db_path: Path) -> None:
    """Write the newest published cycle's report again, with the track record, and print the value added."""
    from sop_pipeline.cli import _say, out
    from sop_pipeline.store import db
    from sop_pipeline.track_record.report_file import write_report

    conn = db.connect(db_path)
    try:
        db.ensure_schema(conn)
        newest = conn.execute(db.sql_text("newest_cycle")).fetchall()[0][0]
        report = write_report(conn, db_path, newest) if newest else None
        summary = db.query_pl(conn, db.sql_text("forecast_value_added_summary"))
    finally:
        conn.close()
    if summary.height:
        from rich.table import Table

        table = Table(title="Forecast value added, all families: WAPE by months ahead (adds = WAPE removed)")
        for column in summary.columns:
            table.add_column(column.replace("_", " "), justify="left" if column == "lag" else "right")
        for row in summary.iter_rows():
            table.add_row(*[(f"{v:.1%}" if isinstance(v, float) else str(v)) if v is not None else "—"
                            for v in row])
        out.print(table)
    else:
        _say("No published month has actuals yet: the value-added table fills as actuals arrive.")
    if report:
        _say(f"Executive report (with the track record): {report}")
