"""End-to-end runs of `sop-pipeline run`: the demo data and a real public sales history (Superstore).

Each fills every sop.* table of docs/contracts.md for its cycle; the published tables are then checked against the
planning identities a planner relies on (inventory balances, money equals cost, optimal is cheapest, ...).
"""

from __future__ import annotations

import polars as pl
import pytest
import yaml

from sop_pipeline.config.loading import DEMO_SETTINGS
from sop_pipeline.store import db
from tests.support.files import shared_file
from tests.support.plan_checks import assert_optimal_never_dearer_in_cash

pytestmark = pytest.mark.slow
CENT = 0.005


def _tables(db_path, cycle: str) -> dict[str, pl.DataFrame]:
    conn = db.connect(db_path, read_only=True)
    try:
        return {t: db.query_pl(conn, f"SELECT * FROM sop.{t} WHERE plan_cycle = $c::DATE", {"c": cycle})
                for t in db.PLAN_TABLES}
    finally:
        conn.close()


def _check_published_plan(tables: dict[str, pl.DataFrame], settings_path) -> None:
    settings = yaml.safe_load(open(settings_path))
    # Without a budget there is no gap to it; a plan may have nothing that needs a decision.
    optional = {"exceptions"} | (set() if settings.get("budget") else {"budget_gap"})
    for name, frame in tables.items():
        assert frame.height > 0 or name in optional, f"sop.{name} is empty"
    production = tables["production_plan"].sort("family", "strategy", "month")

    # Inventory balances every period of every strategy: net stock moves by production minus demand.
    defaults = settings["planning"]["defaults"]["inventory"]
    families_cfg = settings["planning"].get("families") or {}
    for (family, strategy), rows in production.group_by(["family", "strategy"]):
        inv = {**defaults, **(families_cfg.get(family, {}).get("inventory") or {})}
        net = inv["initial"] - inv.get("initial_backlog", 0)
        for r in rows.sort("month").iter_rows(named=True):
            net += r["regular_units"] + r["overtime_units"] + r["subcontract_units"] - r["demand"]
            assert abs(net - (r["ending_inventory"] - r["backlog"])) < 1e-4, (family, strategy, r["month"])

    # The inventory plan balances per SKU and month.
    inventory = tables["inventory_plan"]
    gap = (inventory["beginning_inventory"] - inventory["beginning_backlog"] + inventory["production"]
           - inventory["demand"] - (inventory["ending_inventory"] - inventory["backlog"])).abs().max()
    assert gap < 1e-4

    # Operating-plan money equals the chosen production plan's cost, to the cent.
    chosen = tables["strategy_comparison"].filter(pl.col("chosen")).select("family", "strategy")
    chosen_plan = production.join(chosen, on=["family", "strategy"])
    operating = tables["operating_plan"]
    per_family = operating.filter(pl.col("family") != "ALL FAMILIES")
    assert abs(per_family["total_cost"].sum() - chosen_plan["total_cost"].sum()) < CENT
    everything = operating.filter(pl.col("family") == "ALL FAMILIES")
    assert abs(everything["total_cost"].sum() - chosen_plan["total_cost"].sum()) < CENT
    assert abs(everything["labor_cost"].sum() - (chosen_plan["regular_labor_cost"] + chosen_plan["overtime_cost"]
               + chosen_plan["hiring_cost"] + chosen_plan["layoff_cost"]).sum()) < CENT

    # The optimal plan never costs more than level or chase (counting the safety-stock penalty it weighs).
    comparison = tables["strategy_comparison"].filter(pl.col("total_cost").is_not_null())
    cost = comparison.with_columns(all_in=pl.col("total_cost") + pl.col("safety_stock_penalty").fill_null(0))
    assert ((cost["all_in"] - cost["cost_with_safety_stock_penalty"]).abs() < CENT).all()
    for family, rows in cost.group_by("family"):
        by_strategy = dict(zip(rows["strategy"], rows["all_in"]))
        assert by_strategy["optimal"] <= min(by_strategy.values()) + 1e-6 * max(1.0, by_strategy["optimal"]), family

    # And in cash alone too: level and chase keep the same safety stock as optimal
    # (docs/contracts.md, "Aggregate-planning problem").
    assert_optimal_never_dearer_in_cash(tables["strategy_comparison"])

    # Every family with sales has a plan; the demand plan adds up its parts.
    families = set(tables["demand_history"]["family"])
    assert families <= set(production["family"])
    plan = tables["demand_plan"]
    parts = (plan["statistical_forecast"].clip(lower_bound=0) + plan["new_product_units"]
             + plan["cannibalized_units"] + plan["adjustment_units"])
    assert ((parts - plan["planned_units"]).abs() < 1e-6).all()
    # Forecast hierarchy coherent in the published table.
    forecast = tables["forecast"]
    fam = forecast.filter(pl.col("level") == "family").select("family", "month", "yhat")
    skus = forecast.filter(pl.col("level") == "sku").group_by("family", "month").agg(pl.col("yhat").sum())
    joined = fam.join(skus, on=["family", "month"], suffix="_skus")
    assert (joined["yhat"] - joined["yhat_skus"]).abs().max() < 1e-6


def test_demo_cycle_fills_every_table(run_cli, tmp_path):
    db_path = tmp_path / "data" / "sop.duckdb"
    result = run_cli("run", "--db", db_path)
    assert result.code == 0, result.err[-3000:]
    tables = _tables(db_path, "2026-11-01")
    _check_published_plan(tables, DEMO_SETTINGS)
    # The demo's meeting compares all three strategies in every family (its work centres leave a chase plan room).
    costed = tables["strategy_comparison"].filter(pl.col("total_cost").is_not_null())
    assert costed.group_by("family").agg(pl.col("strategy").n_unique())["strategy"].min() == 3, \
        tables["strategy_comparison"].select("family", "strategy", "total_cost", "solver_status")
    # The demo's catalogue and adjustments are in the plan.
    assert set(tables["new_product_plan"]["product"]) >= {"CKW-0032", "SAP-0023"}
    assert tables["demand_plan"]["adjustment_units"].abs().sum() > 0
    assert (db_path.parent / "reports" / "sop_report_2026-11.html").exists()
    assert "Executive report" in result.out
    # Alignment: the work centres' capacity plan, the gap to the demo budget and the decisions needed.
    capacity = tables["capacity_plan"]
    assert set(capacity["resource"]) == {"plant labour", "Assembly", "Packing"}
    limited = capacity.filter(pl.col("hours_available").is_not_null())
    assert ((limited["utilization"] - limited["hours_required"] / limited["hours_available"]).abs() < 1e-9).all()
    packing_march = capacity.filter((pl.col("resource") == "Packing") & (pl.col("family") == "ALL FAMILIES")
                                    & (pl.col("month") == pl.date(2027, 3, 1))).row(0, named=True)
    assert packing_march["hours_required"] <= 1700 * (1 + 1e-9)   # the serviced line's March hours hold
    gap = tables["budget_gap"]
    assert gap.filter(pl.col("family") == "ALL FAMILIES").height == 12
    by_family = gap.filter(pl.col("family") != "ALL FAMILIES").group_by("family").agg(pl.col("revenue_gap").sum())
    assert (by_family["revenue_gap"] > 0).any() and (by_family["revenue_gap"] < 0).any()  # above and below
    kinds = set(tables["exceptions"]["kind"])
    assert {"budget_gap", "capacity_over"} <= kinds
    report = (db_path.parent / "reports" / "sop_report_2026-11.html").read_text(encoding="utf-8")
    assert report.index("Decisions needed") < report.index('class="cards"') < report.index("Gap to budget")


def test_superstore_history_fills_every_table(run_cli, tmp_path):
    orders = shared_file("superstore_orders.csv")
    catalogue = tmp_path / "new_products.csv"
    catalogue.write_text("product,family,launch_month,analogs,expected_peak_units,months_to_peak,"
                         "cannibalization_share,unit_price\nNEW-CHAIR-1,Chairs,2018-03,,12,4,0.1,199\n")
    settings = {
        "sales": {"path": str(orders), "date_format": "%m/%d/%Y",
                  "columns": {"date": "Order Date", "sku": "Product ID", "family": "Sub-Category",
                              "units": "Quantity", "revenue": "Sales"}},
        "forecast": {"horizon_months": 12, "backtest_months": 12},
        "planning": {"strategy": "optimal", "service_level": 0.9, "defaults": {
            "workforce": {"initial": 1, "hours_per_day": 8, "integer": False},
            "production": {"labor_hours_per_unit": 1.5, "max_overtime_hours_per_worker": 20},
            "inventory": {"initial": 40, "ending_min": 0, "allow_backlog": True},
            "costs": {"regular_wage_per_hour": 20, "overtime_wage_per_hour": 30, "hire_per_worker": 800,
                      "layoff_per_worker": 1200, "holding_per_unit_period": 1.5,
                      "backlog_per_unit_period": 8, "material_per_unit": 20, "subcontract_per_unit": 70}}},
        "new_products": str(catalogue),
    }
    path = tmp_path / "superstore.yaml"
    path.write_text(yaml.safe_dump(settings))
    db_path = tmp_path / "superstore.duckdb"
    result = run_cli("run", "--config", path, "--db", db_path)
    assert result.code == 0, result.err[-3000:]
    tables = _tables(db_path, "2018-01-01")
    _check_published_plan(tables, path)
    assert tables["demand_history"]["family"].n_unique() == 17
