"""`adopt` against the plan database: the scenario's tables written as the cycle's draft and published as a
new, approved version in one transaction, like a run (the caller holds the run lock)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

import polars as pl

from sop_pipeline.alignment import exceptions as exceptions_core
from sop_pipeline.common.errors import SopError
from sop_pipeline.config.schema import Settings
from sop_pipeline.meeting.adopt import AdoptedTables, adopt_tables, find_scenario
from sop_pipeline.store import db, versions

BIAS_MONTHS_BACK = 6  # as the exceptions stage counts recent forecasts (defs/alignment/assets.py)


def adopt(conn, cycle: date, scenario_name: str, by: str, note: str | None = None,
          log=lambda _message: None) -> tuple[versions.Published, AdoptedTables, int]:
    """Make scenario `scenario_name` the cycle's plan. Returns the publication, the tables and the version
    the scenario was planned from."""
    by = versions.check_who(by)
    base_version = versions.shown_version(conn, cycle)
    if base_version is None:
        raise versions.no_cycle(conn, cycle)
    base = {t: db.read_cycle(conn, t, cycle, schema="sop") for t in db.PLAN_TABLES}
    run = base["plan_runs"].row(0, named=True)
    if not run.get("settings_json"):
        raise SopError(f"Plan cycle {cycle:%Y-%m} was published without its settings, so its scenarios cannot be "
                       "planned again", where="sop.plan_runs", fix="Run the cycle again with `sop-pipeline run`")
    settings = Settings.model_validate(json.loads(run["settings_json"]))
    if settings.planning is None or not settings.plans_supply:
        raise SopError(f"Plan cycle {cycle:%Y-%m} has no supply plan (no planning section), so no scenario to adopt",
                       where="--cycle", fix="Add a planning section to sop.yaml and run the cycle")
    scenario = find_scenario(settings, scenario_name, base["scenario_comparison"], f"{cycle:%Y-%m}")
    log(f"Planning scenario {scenario.name} of plan cycle {cycle:%Y-%m} (from version {base_version}) ...")
    adopted = adopt_tables(settings, scenario, base, f"{cycle:%Y-%m}")

    # The draft is the run's scratch space, and the run lock is held: write the version there and publish it
    # through the run's own path (carry-forward, versions, sop.* shown), approved in the same transaction.
    for table in db.PLAN_TABLES:
        if table not in ("plan_runs", "exceptions"):
            db.replace_cycle(conn, table, cycle, adopted.tables.get(table, base[table]))
    db.replace_cycle(conn, "exceptions", cycle, cycle_exceptions(conn, cycle, adopted))
    db.replace_cycle(conn, "plan_runs", cycle, _run_row(conn, cycle, run, adopted))
    published = versions.publish(conn, cycle, approve_by=by, note=note, decision="adopted", scenario=scenario.name)
    return published, adopted, base_version


def cycle_exceptions(conn, cycle: date, adopted: AdoptedTables) -> pl.DataFrame:
    """The exceptions of the adopted tables (in draft), found as the exceptions stage finds a run's."""
    settings, planning = adopted.settings, adopted.settings.planning
    production = db.read_cycle(conn, "production_plan", cycle).filter(pl.col("strategy") == planning.strategy)
    changes = db.query_pl(conn, db.sql_text("exceptions_plan_change"), {"plan_cycle": cycle})
    published_bias = db.query_pl(conn, db.sql_text("exceptions_forecast_bias"),
                                 {"plan_cycle": cycle, "months_back": BIAS_MONTHS_BACK})
    backtest_bias = db.query_pl(conn, db.sql_text("exceptions_backtest_bias"), {"plan_cycle": cycle})
    return exceptions_core.find_exceptions(
        settings.alerts, demand_plan=db.read_cycle(conn, "demand_plan", cycle), production=production,
        inventory=db.read_cycle(conn, "inventory_plan", cycle), capacity=db.read_cycle(conn, "capacity_plan", cycle),
        budget_gap=db.read_cycle(conn, "budget_gap", cycle), plan_changes=changes,
        forecast_bias=exceptions_core.recent_bias(published_bias, backtest_bias),
        overtime_rates={f: p.costs.overtime_wage_per_hour for f, p in adopted.problems.items()})


def _run_row(conn, cycle: date, run: dict, adopted: AdoptedTables) -> pl.DataFrame:
    solver_status = conn.execute(db.sql_text("chosen_solver_status"), {"plan_cycle": cycle}).fetchall()[0][0]
    row = {k: v for k, v in run.items() if k not in ("version", "status")}
    row.update(run_id=f"adopt-{uuid.uuid4()}", created_at=datetime.now().replace(microsecond=0),
               strategy=adopted.settings.planning.strategy, solver_status=solver_status,
               adopted_scenario=adopted.scenario.name,
               settings_json=json.dumps(adopted.settings.model_dump(mode="json"), sort_keys=True))
    return pl.DataFrame([row], schema_overrides={k: pl.Utf8 for k, v in row.items() if v is None or isinstance(v, str)})
