"""The demand plan: forecast + new products - cannibalisation + adjustments, on hand-worked cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sop_pipeline.common.months import add_months
from sop_pipeline.demand.adjustments import load_adjustments
from sop_pipeline.demand.new_products import launch_curves, load_new_products
from sop_pipeline.demand.plan import PLAN_COLUMNS, build_demand_plan
from tests.support.files import PROJECT_ROOT

CYCLE = date(2026, 11, 1)
NOV, DEC = CYCLE, date(2026, 12, 1)


def _forecast() -> pl.DataFrame:
    return pl.DataFrame({
        "family": ["A", "A", "A", "A", "B", "B"],
        "sku": ["a1", "a2", "a1", "a2", "b1", "b1"],
        "month": [NOV, NOV, DEC, DEC, NOV, DEC],
        "yhat": [10.0, 30.0, 20.0, -5.0, 5.0, 8.0],
    })


def _history() -> pl.DataFrame:
    rows = []
    # a1: 8 months of sales, priced 10 in the oldest two and 12 in the last six.
    for i in range(8):
        rows.append(("A", "a1", add_months(date(2026, 3, 1), i), 10, 10 * (10.0 if i < 2 else 12.0)))
    # a2: sells at 4; b1 has no revenue (null) so it takes family B's price (from b2 at 7).
    for i in range(8):
        rows.append(("A", "a2", add_months(date(2026, 3, 1), i), 5, 20.0))
        rows.append(("B", "b1", add_months(date(2026, 3, 1), i), 5, None))
        rows.append(("B", "b2", add_months(date(2026, 3, 1), i), 2, 14.0))
    return pl.DataFrame(rows, schema={"family": pl.String, "sku": pl.String, "month": pl.Date,
                                      "units": pl.Int64, "revenue": pl.Float64}, orient="row")


def _new_products() -> pl.DataFrame:
    return pl.DataFrame({
        "product": ["n1", "n1"], "family": ["A", "A"], "month": [NOV, DEC],
        "launch_month": [NOV, NOV], "months_since_launch": [0, 1], "analog": [None, None],
        "curve": ["standard ramp"] * 2, "planned_units": [8.0, 30.0], "cannibalized_units": [4.0, 30.0],
        "unit_price": [50.0, 50.0], "planned_revenue": [400.0, 1500.0],
    })


def _adjustments(tmp_path: Path, *lines: str) -> pl.DataFrame:
    path = tmp_path / "adjustments.csv"
    path.write_text("family,sku,month,units,percent,reason,author\n" + "".join(line + "\n" for line in lines))
    return load_adjustments(path)


def _rows(plan: pl.DataFrame) -> dict:
    return {(r["sku"], r["month"]): r for r in plan.iter_rows(named=True)}


def test_forecast_only_plan_and_prices():
    plan = build_demand_plan(_forecast(), None, None, _history(), CYCLE)
    assert plan.columns == PLAN_COLUMNS
    rows = _rows(plan)
    assert rows[("a1", NOV)]["planned_units"] == 10.0
    # A negative forecast is zero demand.
    assert rows[("a2", DEC)]["planned_units"] == 0.0
    assert rows[("a2", DEC)]["statistical_forecast"] == -5.0
    # Last 6 selling months of a1 were all at 12; a2 at 4; b1 takes family B's price 14 / 2 = 7.
    assert rows[("a1", NOV)]["unit_price"] == pytest.approx(12.0)
    assert rows[("a2", NOV)]["unit_price"] == pytest.approx(4.0)
    assert rows[("b1", NOV)]["unit_price"] == pytest.approx(7.0)
    assert rows[("a1", NOV)]["planned_revenue"] == pytest.approx(120.0)
    # With 8 price months a1 averages (2 × 100 + 6 × 120) / 80.
    longer = _rows(build_demand_plan(_forecast(), None, None, _history(), CYCLE, price_months=8))
    assert longer[("a1", NOV)]["unit_price"] == pytest.approx(920 / 80)


def test_new_product_rows_and_cannibalisation():
    plan = build_demand_plan(_forecast(), _new_products(), None, _history(), CYCLE)
    rows = _rows(plan)
    new = plan.filter(pl.col("is_new_product"))
    assert new["sku"].to_list() == ["n1", "n1"]
    assert new["new_product_units"].to_list() == [8.0, 30.0]
    assert new["unit_price"].to_list() == [50.0, 50.0]
    # November: 4 units taken from a1 and a2 in proportion 10 : 30.
    assert rows[("a1", NOV)]["cannibalized_units"] == pytest.approx(-1.0)
    assert rows[("a2", NOV)]["cannibalized_units"] == pytest.approx(-3.0)
    nov_a = plan.filter(pl.col("family") == "A", pl.col("month") == NOV)
    assert nov_a["cannibalized_units"].sum() == pytest.approx(-4.0)
    assert nov_a["planned_units"].sum() == pytest.approx(10 + 30 + 8 - 4)
    # December: 30 wanted, but family A's existing SKUs only forecast 20 (a2 is negative = 0).
    assert rows[("a1", DEC)]["cannibalized_units"] == pytest.approx(-20.0)
    assert rows[("a2", DEC)]["cannibalized_units"] == 0.0
    assert rows[("b1", NOV)]["cannibalized_units"] == 0.0


def test_adjustments_change_the_plan_by_exactly_what_they_say(tmp_path):
    base = build_demand_plan(_forecast(), _new_products(), None, _history(), CYCLE)
    adjusted = build_demand_plan(_forecast(), _new_products(),
                                 _adjustments(tmp_path, "A,,2026-11,+22,,promo,", ",n1,2026-12,-10,,slow start,",
                                              "B,,2026-12,,50,catalogue,"),
                                 _history(), CYCLE)
    def total(plan, family, month):
        return plan.filter(pl.col("family") == family, pl.col("month") == month)["planned_units"].sum()
    assert total(adjusted, "A", NOV) - total(base, "A", NOV) == pytest.approx(22.0)
    assert total(adjusted, "A", DEC) - total(base, "A", DEC) == pytest.approx(-10.0)
    assert total(adjusted, "B", DEC) - total(base, "B", DEC) == pytest.approx(4.0)
    assert total(adjusted, "B", NOV) == total(base, "B", NOV)
    rows = _rows(adjusted)
    # The family row is spread over a1, a2 and n1 by their unadjusted units 9 : 27 : 8.
    assert rows[("n1", NOV)]["adjustment_units"] == pytest.approx(22 * 8 / 44)
    assert rows[("n1", DEC)]["adjustment_reasons"] == "slow start"
    assert adjusted["adjustment_units"].sum() == pytest.approx(22 - 10 + 4)
    assert (adjusted["planned_revenue"] == adjusted["planned_units"] * adjusted["unit_price"]).all()


def test_adjustment_outside_horizon_is_an_error(tmp_path):
    from sop_pipeline.common.errors import InputDataError
    with pytest.raises(InputDataError, match="line 2, column month"):
        build_demand_plan(_forecast(), None, _adjustments(tmp_path, "A,,2027-06,5,,late,"), _history(), CYCLE,
                          horizon_months=2)


def test_demo_inputs_make_a_plan():
    root = PROJECT_ROOT / "assets" / "demo"
    daily = pl.read_csv(root / "sales_history.csv", try_parse_dates=True)
    history = daily.group_by("family", "sku", month=pl.col("date").dt.truncate("1mo")).agg(
        pl.col("units").sum(), pl.col("revenue").sum())
    months = pl.DataFrame({"month": [add_months(CYCLE, i) for i in range(18)]})
    # A simple stand-in forecast: each SKU's average month of the last year.
    forecast = (history.filter(pl.col("month") >= date(2025, 11, 1)).group_by("family", "sku")
                .agg(yhat=pl.col("units").mean()).join(months, how="cross"))
    products = launch_curves(load_new_products(root / "new_products.csv"), history, CYCLE, 18)
    adjustments = load_adjustments(root / "adjustments.csv")
    plan = build_demand_plan(forecast, products, adjustments, history, CYCLE, horizon_months=18)
    assert plan.select("family", "sku", "month").is_duplicated().sum() == 0
    assert (plan["planned_units"] >= 0).all()
    assert plan["unit_price"].is_not_null().all()
    # The demo's adjustments are not cut by the zero floor: the plan moves by what they ask.
    assert plan["adjustment_units"].to_numpy() == pytest.approx(plan["adjustment_requested"].to_numpy())
    assert plan.filter(pl.col("is_new_product"))["sku"].n_unique() == products["product"].n_unique()
