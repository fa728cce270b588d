"""The Dagster definitions: they load, the graph is wired in order, the schedule plans the right cycle."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from sop_pipeline.definitions import defs
from sop_pipeline.store import db


def test_definitions_load_and_validate():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    expected = {"raw/sales_history"} | {f"sop/{t}" for t in db.PLAN_TABLES if t != "forecast_model_params"}
    assert expected <= keys


def test_lineage_runs_from_sales_to_publication():
    graph = defs.get_repository_def().asset_graph
    key = dg.AssetKey

    def upstream(asset: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(key(asset.split("/"))).parent_keys}

    assert upstream("sop/demand_history") == {"raw/sales_history"}
    assert "sop/demand_history" in upstream("sop/forecast")
    assert {"sop/forecast", "sop/new_product_plan"} <= upstream("sop/demand_plan")
    assert "sop/demand_plan" in upstream("sop/production_plan")
    # Publication waits for every plan table's asset.
    assert {f"sop/{t}" for t in db.PLAN_TABLES if t not in ("forecast_model_params", "plan_runs")} \
        <= upstream("sop/plan_runs")


def test_blocking_checks_guard_each_stage():
    checks = {c.name: c for c in defs.get_repository_def().asset_graph.asset_check_keys}
    specs = [spec for ad in defs.get_repository_def().asset_graph.assets_defs for spec in ad.check_specs]
    names = {s.name for s in specs}
    assert {"raw_sales_valid", "demand_history_usable", "forecast_values_valid",
            "forecast_horizon_complete", "forecast_hierarchy_coherent"} <= names
    assert all(s.blocking for s in specs if s.name in {"raw_sales_valid", "forecast_values_valid"})
    assert checks


def test_schedule_runs_the_current_month_on_the_second():
    schedule = defs.resolve_schedule_def("sop_monthly_cycle_schedule")
    assert schedule.cron_schedule == "0 6 2 * *"
    context = dg.build_schedule_context(
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC))
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-12-01"]
    assert schedule.job_name == "sop_monthly_cycle"
