"""Exceptions: each kind fires on a case built to trigger it and stays silent on a clean one."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from sop_pipeline.alignment import exceptions as ex
from sop_pipeline.alignment.budget import budget_gap
from sop_pipeline.config.schema import AlertSettings

JAN, FEB, MAR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)
ALERTS = AlertSettings()


def _demand_plan(price=50.0) -> pl.DataFrame:
    return pl.DataFrame([{"family": f, "sku": f"{f}-1", "month": m, "planned_units": 100.0,
                          "planned_revenue": 100.0 * price} for f in ("Cookware", "Textiles") for m in (JAN, FEB, MAR)])


def _production(ending=(500.0, 500.0, 500.0), safety=(400.0, 400.0, 400.0), backlog=(0.0, 0.0, 0.0)):
    return pl.DataFrame({"family": "Cookware", "strategy": "optimal", "month": [JAN, FEB, MAR],
                         "ending_inventory": list(map(float, ending)), "safety_stock": list(map(float, safety)),
                         "backlog": list(map(float, backlog))})


def _capacity(used: float, need: float = 500.0, available: float = 1000.0) -> pl.DataFrame:
    rows = [("Packing", "Cookware", used * 0.75, need * 0.75), ("Packing", "Textiles", used * 0.25, need * 0.25),
            ("Packing", "ALL FAMILIES", used, need)]
    return pl.DataFrame([{"resource": r, "family": f, "month": FEB, "strategy": "optimal", "hours_available": available,
                          "hours_required": u, "hours_unconstrained": n, "utilization": u / available,
                          "unconstrained_utilization": n / available} for r, f, u, n in rows])


def _run(**inputs) -> pl.DataFrame:
    inputs.setdefault("demand_plan", _demand_plan())
    inputs.setdefault("production", _production())
    return ex.find_exceptions(ALERTS, **inputs)


def test_a_clean_plan_has_no_exceptions():
    clean = _run(inventory=None, capacity=_capacity(900),
                 plan_changes=pl.DataFrame({"family": ["Cookware"], "previous_cycle": [date(2026, 10, 1)],
                                            "planned_units": [1100.0], "previous_planned_units": [1000.0]}),
                 forecast_bias=pl.DataFrame({"family": ["Cookware"], "bias": [0.1], "evidence": ["x"]}),
                 budget_gap=_gap(budget_revenue=14_700))
    assert clean.is_empty()
    assert clean.columns == ex.EXCEPTION_COLUMNS


def test_capacity_over_its_threshold():
    rates = {"Cookware": 30.0, "Textiles": 20.0}
    found = ex.capacity_exceptions(_capacity(970), 0.95, rates)
    assert found.height == 1
    row = found.row(0, named=True)
    assert (row["kind"], row["resource"], row["month"], row["severity"]) == ("capacity_over", "Packing", FEB, "medium")
    assert row["value"] == pytest.approx(0.97) and row["threshold"] == 0.95
    # 20 h above 95% of 1,000 h at the families' hour-weighted overtime wage (75% at 30, 25% at 20)
    assert row["money_at_stake"] == pytest.approx(20 * (0.75 * 30 + 0.25 * 20))
    assert "Packing runs at 97% of its 1,000 h in 2027-02" in row["message"]
    full = ex.capacity_exceptions(_capacity(1000, need=1300), 0.95, rates).row(0, named=True)
    assert full["severity"] == "high" and "would need 1,300 h" in full["message"]
    assert full["money_at_stake"] == pytest.approx((1300 - 950) * 27.5)
    assert ex.capacity_exceptions(_capacity(999.95), 0.95, rates)["severity"].to_list() == ["high"]  # full
    assert ex.capacity_exceptions(_capacity(950), 0.95, rates).is_empty()


def test_below_safety_stock_for_families_and_skus():
    production = _production(ending=(500, 150, 350), safety=(400, 400, 400))
    # CKW-1 runs 60 below its 100 in January; CKW-2 only 10% below (the family mix, not a decision); CKW-3 at it
    inventory = pl.DataFrame({"family": "Cookware", "sku": ["CKW-1", "CKW-1", "CKW-2", "CKW-3"],
                              "month": [JAN, FEB, JAN, JAN], "ending_inventory": [40.0, 100.0, 90.0, 50.0],
                              "safety_stock": [100.0, 100.0, 100.0, 50.0]})
    found = _run(production=production, inventory=inventory).filter(pl.col("kind") == "below_safety_stock")
    family = found.filter(pl.col("sku").is_null()).row(0, named=True)
    assert (family["family"], family["month"], family["value"], family["threshold"]) == ("Cookware", FEB, 250, 400)
    assert family["severity"] == "medium"                       # more than half the buffer gone
    assert "about 12,500 of sales at risk" in family["message"]
    assert family["money_at_stake"] == pytest.approx(250 * 50)  # units below x unit price
    assert "(2 months below it)" in family["message"]
    sku = found.filter(pl.col("sku").is_not_null())
    assert sku["sku"].to_list() == ["CKW-1"] and sku["value"].to_list() == [60.0] and sku["severity"][0] == "medium"
    assert "SKU CKW-1 (Cookware) ends 2027-01 with 40 units, 60 below its safety stock of 100" in sku["message"][0]
    assert _run(production=_production(ending=(400, 400, 400))).is_empty()


def test_units_short_at_the_peak_backlog():
    found = _run(production=_production(backlog=(0, 120, 40), ending=(500, 0, 0), safety=(0, 0, 0)))
    assert found["kind"].to_list() == ["units_short"]
    row = found.row(0, named=True)
    assert (row["month"], row["value"], row["severity"], row["money_at_stake"]) == (FEB, 120, "high", 120 * 50)
    assert "Cookware cannot ship 120 units on time in 2027-02 (late orders in 2 months)" in row["message"]
    assert _run(production=_production(backlog=(0, 0.2, 0))).is_empty()  # solver noise is not an exception


def test_plan_change_against_the_previous_cycle():
    changes = pl.DataFrame({"family": ["Cookware", "Textiles"], "previous_cycle": [date(2026, 10, 1)] * 2,
                            "planned_units": [700.0, 1150.0], "previous_planned_units": [1000.0, 1000.0]})
    found = _run(plan_changes=changes)
    assert found["family"].to_list() == ["Cookware"]
    row = found.row(0, named=True)
    assert row["kind"] == "plan_change" and row["value"] == pytest.approx(-30) and row["severity"] == "medium"
    assert row["money_at_stake"] == pytest.approx(300 * 50)
    assert "30% below last cycle's (2026-10)" in row["message"]
    assert _run(plan_changes=changes.filter(pl.col("family") == "Textiles")).is_empty()


def test_forecast_bias_from_published_cycles_else_the_backtest():
    published = pl.DataFrame({"family": ["Cookware", "Textiles"], "first_cycle": [date(2026, 5, 1)] * 2,
                              "last_cycle": [date(2026, 10, 1)] * 2, "n_months": [6, 2], "bias": [0.35, 0.5]})
    backtest = pl.DataFrame({"family": ["Cookware", "Textiles"], "bias": [0.01, -0.2], "n_points": [12, 12]})
    bias = ex.recent_bias(published, backtest)
    # Cookware: six months of published forecasts; Textiles has too few, so its backtest is the evidence
    assert dict(zip(bias["family"], bias["bias"])) == {"Cookware": 0.35, "Textiles": -0.2}
    found = _run(forecast_bias=bias).sort("family")
    assert found["kind"].to_list() == ["forecast_bias", "forecast_bias"]
    assert found["value"].to_list() == pytest.approx([35, -20])
    assert found["severity"].to_list() == ["high", "medium"]
    assert found["money_at_stake"].to_list() == pytest.approx([0.35 * 15_000, 0.2 * 15_000])
    assert "ran 35% high (cycles 2026-05..2026-10, 0-2 months ahead" in found["message"][0]
    assert "ran 20% low (12-month backtest)" in found["message"][1]
    assert _run(forecast_bias=ex.recent_bias(published.head(0), backtest.head(1))).is_empty()


def _gap(budget_revenue: float, family="Cookware") -> pl.DataFrame:
    budget = pl.DataFrame({"source": "b.csv", "line": [2, 3, 4], "family": family, "month": [JAN, FEB, MAR],
                           "units": None, "revenue": [budget_revenue / 3] * 3},
                          schema_overrides={"units": pl.Float64})
    return budget_gap(budget, _demand_plan())


def test_budget_gap_beyond_its_threshold():
    # plan revenue 15,000 over the quarter; a budget of 16,500 leaves it 9.1% short, of 14,700 2% over
    found = _run(budget_gap=_gap(16_500))
    assert found["kind"].to_list() == ["budget_gap"]
    row = found.row(0, named=True)
    assert row["value"] == pytest.approx(100 * (15_000 - 16_500) / 16_500)
    assert row["money_at_stake"] == pytest.approx(1_500) and row["severity"] == "medium"
    assert "9% below budget over 2027-01..2027-03 (-1,500 in revenue)" in row["message"]
    assert _run(budget_gap=_gap(20_000))["severity"].to_list() == ["high"]  # 25% off: beyond twice 5%
    assert _run(budget_gap=_gap(14_700)).is_empty()


def test_exceptions_are_ranked_by_money_at_stake():
    found = _run(production=_production(backlog=(0, 10, 0), ending=(500, 0, 0), safety=(0, 0, 0)),
                 budget_gap=_gap(20_000), capacity=_capacity(990))
    assert found["kind"].to_list() == ["budget_gap", "units_short", "capacity_over"]
    money = found["money_at_stake"].to_list()
    assert money == sorted(money, reverse=True)
