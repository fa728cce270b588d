"""The planning assets materialised with Dagster against a temporary DuckDB holding a demand plan and forecast."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
import yaml

from sop_pipeline.config.loading import DEMO_SETTINGS, load_settings
from sop_pipeline.defs.resources import plan_resources
from sop_pipeline.defs.store import assets as publish_assets
from sop_pipeline.defs.supply import assets as planning_assets
from sop_pipeline.defs.supply import checks as planning_checks
from sop_pipeline.store import db
from sop_pipeline.supply.invariants import inventory_plan_errors, production_balance_errors
from sop_pipeline.supply.problems import family_problems
from sop_pipeline.supply.tables import ALL_FAMILIES
from tests.support.planning_cases import DEMO_FAMILIES
from tests.support.stages import CYCLE, PARTITION, demo_planning_settings, draft_demand_database, draft_sources


def _materialize(tmp_path, **planning):
    database = draft_demand_database(tmp_path)
    result = dg.materialize(
        [*dg.load_assets_from_modules([planning_assets, publish_assets]),
         *draft_sources("demand_plan", "forecast", "forecast_accuracy"),
         *dg.load_asset_checks_from_modules([planning_checks])],
        resources=plan_resources(demo_planning_settings(tmp_path, **planning), database),
        partition_key=PARTITION,
        raise_on_error=False,
    )
    return result, database


def _read(database: str, table: str) -> pl.DataFrame:
    conn = db.connect(database, read_only=True)
    try:
        return db.read_cycle(conn, table, CYCLE)
    finally:
        conn.close()


@pytest.mark.slow
def test_planning_assets_write_balanced_plans_and_pass_their_checks(tmp_path):
    result, database = _materialize(tmp_path)
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        planning_checks.PRODUCTION_PLAN_BALANCES: True, planning_checks.PRODUCTION_PLAN_WITHIN_LIMITS: True,
        planning_checks.CHOSEN_STRATEGY_OPTIMAL: True, planning_checks.INVENTORY_PLAN_BALANCES: True,
        planning_checks.OPERATING_PLAN_MATCHES_COST: True,
    }
    production, comparison = _read(database, "production_plan"), _read(database, "strategy_comparison")
    inventory, operating = _read(database, "inventory_plan"), _read(database, "operating_plan")
    # every family of the demand plan has a plan in every strategy
    assert sorted(production["family"].unique()) == sorted(DEMO_FAMILIES)
    assert production.height == len(DEMO_FAMILIES) * 3 * 12
    assert comparison.filter(pl.col("chosen"))["strategy"].unique().to_list() == ["optimal"]
    # the tables as stored, checked independently of the asset checks
    problems = family_problems(_read(database, "demand_plan"), load_settings(tmp_path / "sop.yaml").planning)
    assert production_balance_errors(production, problems) == []
    assert inventory_plan_errors(inventory, production, "optimal") == []
    chosen_total = production.filter(pl.col("strategy") == "optimal")["total_cost"].sum()
    assert round(operating.filter(pl.col("family") == ALL_FAMILIES)["total_cost"].sum(), 2) == \
        round(chosen_total, 2)
    # publication records the chosen strategy's solver status
    conn = db.connect(database, read_only=True)
    try:
        assert conn.execute("SELECT strategy, solver_status FROM sop.plan_runs").fetchall() == [("optimal", "optimal")]
    finally:
        conn.close()
    # metadata a planner reads in the UI
    meta = result.asset_materializations_for_node("production_plan")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in meta}
    assert "cost_comparison" in by_key["sop/strategy_comparison"]
    assert by_key["sop/production_plan"]["solver_status"].value == "optimal"


@pytest.mark.slow
def test_an_impossible_chosen_strategy_fails_the_step_with_the_reason(tmp_path):
    families = yaml.safe_load(DEMO_SETTINGS.read_text())["planning"]["families"]
    families["Cookware"]["workforce"] = {"initial": 2, "max": 2}
    result, database = _materialize(tmp_path, strategy="level", families=families,
                                    defaults={**yaml.safe_load(DEMO_SETTINGS.read_text())["planning"]["defaults"],
                                              "workforce": {"initial": 12, "hours_per_day": 8, "min": 0,
                                                            "max": 1000, "integer": True}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error, message = failure.event_specific_data.error, ""
    while error is not None:  # Dagster wraps the planner's error as the cause of a step error
        message, error = message + error.message, error.cause
    assert "Cookware" in message and "planning.strategy = level" in message
    assert _read(database, "production_plan").is_empty()
