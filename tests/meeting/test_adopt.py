"""`sop-pipeline adopt`: a scenario becomes the cycle's plan, a new approved version whose tables are the
scenario's and still add up; unknown or infeasible scenarios fail cleanly with nothing published changed."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from sop_pipeline.config.schema import Settings
from sop_pipeline.meeting.adopt import supply_errors
from sop_pipeline.scenarios.plan import scenario_planning
from sop_pipeline.store import db
from sop_pipeline.supply.problems import planning_inputs
from tests.support.files import SMALL_CYCLE, snapshot

CYCLE = date(2026, 11, 1)
SCENARIO = "demand_up_10"


def frame(path, sql, params=None) -> pl.DataFrame:
    conn = db.connect(path, read_only=True)
    try:
        return db.query_pl(conn, sql, params or {"c": CYCLE})
    finally:
        conn.close()


def test_adopted_tables_are_the_scenarios_and_add_up(published_copy, run_cli):
    result = run_cli("adopt", "--db", published_copy, "--cycle", SMALL_CYCLE, "--scenario", SCENARIO,
                     "--by", "Exec team", "--note", "the retailer deal")
    assert result.code == 0, result.text
    assert "as version 2" in result.out
    runs = frame(published_copy, "SELECT version, status, adopted_scenario FROM sop_versions.plan_runs "
                                 "WHERE plan_cycle = $c ORDER BY version")
    assert runs.rows() == [(1, "superseded", None), (2, "approved", SCENARIO)]
    # Demand: the published plan's planned units and revenue, 10% up, row by row.
    demand = frame(published_copy, "SELECT s.family, s.sku, s.month, s.planned_units, v.planned_units AS base_units, "
                                   "s.planned_revenue, v.planned_revenue AS base_revenue FROM sop.demand_plan s "
                                   "JOIN sop_versions.demand_plan v USING (plan_cycle, family, sku, month) "
                                   "WHERE s.plan_cycle = $c AND v.version = 1")
    assert demand.height == frame(published_copy, "SELECT * FROM sop_versions.demand_plan WHERE plan_cycle = $c "
                                                  "AND version = 1").height
    assert (demand["planned_units"] - 1.1 * demand["base_units"]).abs().max() < 1e-9
    assert (demand["planned_revenue"] - 1.1 * demand["base_revenue"]).abs().max() < 1e-6
    # Supply: the chosen plan equals the scenario's rows the run published (sop.scenario_plan of version 1).
    scenario = frame(published_copy, "SELECT * FROM sop_versions.scenario_plan WHERE plan_cycle = $c AND version = 1 "
                                     f"AND scenario = '{SCENARIO}' ORDER BY family, month")
    settings = Settings.model_validate(json.loads(frame(
        published_copy, "SELECT settings_json FROM sop.plan_runs WHERE plan_cycle = $c")["settings_json"][0]))
    chosen = frame(published_copy, "SELECT * FROM sop.production_plan WHERE plan_cycle = $c AND strategy = $s "
                                   "ORDER BY family, month", {"c": CYCLE, "s": settings.planning.strategy})
    assert chosen.height == scenario.height > 0
    for column in ("regular_units", "overtime_units", "subcontract_units", "ending_inventory", "backlog",
                   "workforce", "total_cost"):
        assert (chosen[column] - scenario[column]).abs().max() < 1e-4 * max(1.0, scenario[column].abs().max()), column
    assert abs(chosen["total_cost"].sum() - scenario["total_cost"].sum()) < 1e-6 * scenario["total_cost"].sum()
    # Every table of the version is in sop.*, and the supply checks pass on the published rows.
    conn = db.connect(published_copy, read_only=True)
    try:
        tables = {t: db.read_cycle(conn, t, CYCLE, schema="sop") for t in db.PLAN_TABLES}
    finally:
        conn.close()
    planning = scenario_planning(settings.planning, next(s for s in settings.scenarios if s.name == SCENARIO))
    stocks, problems = planning_inputs(tables["demand_plan"], tables["forecast"],
                                                   tables["forecast_accuracy"], planning,
                                                   settings.forecast.interval_width)
    assert supply_errors(tables, problems, planning) == []
    for table in ("inventory_plan", "operating_plan", "capacity_plan", "strategy_comparison", "exceptions"):
        assert tables[table].height > 0, table
    # Inventory follows the higher demand: SKU demand sums to the adopted family demand.
    sku_demand = tables["inventory_plan"].group_by("family", "month").agg(pl.col("demand").sum()).sort("family", "month")
    assert (sku_demand["demand"] - chosen.sort("family", "month")["demand"]).abs().max() < 1e-6
    report = (published_copy.parent / "reports" / f"sop_report_{SMALL_CYCLE}.html").read_text()
    assert f"scenario {SCENARIO}, adopted" in report and "Against the base plan it changes" in report
    assert "the retailer deal" in report
    assert frame(published_copy, "SELECT decision, scenario, decided_by FROM sop.decisions WHERE plan_cycle = $c").rows() == [
        ("adopted", SCENARIO, "Exec team")]


@pytest.mark.parametrize("name, expected", [
    ("no_such_scenario", "has no scenario 'no_such_scenario' to adopt"),
    ("overtime_capped", "has no feasible plan, so it cannot be adopted"),
])
def test_adopting_an_unknown_or_infeasible_scenario_fails_cleanly(name, expected, published_copy, run_cli):
    conn = db.connect(published_copy)
    try:  # the run found overtime_capped infeasible (as a scenario whose limits cannot be met would be)
        conn.execute("UPDATE sop.scenario_comparison SET status = 'infeasible: no plan meets the limits' "
                     "WHERE scenario = 'overtime_capped'")
    finally:
        conn.close()
    before = snapshot(published_copy)
    result = run_cli("adopt", "--db", published_copy, "--cycle", SMALL_CYCLE, "--scenario", name, "--by", "Ana")
    assert result.code == 2, result.text
    assert expected in " ".join(result.err.split())
    assert snapshot(published_copy) == before
    assert frame(published_copy, "SELECT count(*) AS n FROM sop_versions.plan_runs WHERE plan_cycle = $c")["n"][0] == 1
