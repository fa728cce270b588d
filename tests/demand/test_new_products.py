"""New-product launch curves: analog shapes, the standard ramp, and every validation message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sop_pipeline.common.errors import InputDataError, SettingsError
from sop_pipeline.common.months import add_months
from sop_pipeline.demand.new_products import labor_hours, launch_curves, load_new_products
from tests.support.files import PROJECT_ROOT

CYCLE = date(2026, 11, 1)
HEADER = "product,family,launch_month,analogs,expected_peak_units,months_to_peak,cannibalization_share,unit_price\n"
# A hand-made launch shape: ramp, peak in month 3, settle.
SHAPE = [10, 40, 80, 100, 70, 60, 60, 60, 60, 60, 60, 60]


def _history() -> pl.DataFrame:
    """Monthly history: A-1 launched 2025-11 with SHAPE, A-2 launched 2025-11 with 2 × SHAPE,
    A-3 selling since 2024-01 at 50 a month, A-NEW launched last month (too recent)."""
    rows = []
    for i, units in enumerate(SHAPE):
        month = add_months(date(2025, 11, 1), i)
        rows.append(("Alpha", "A-1", month, units, units * 10.0))
        rows.append(("Alpha", "A-2", month, 2 * units, 2 * units * 20.0))
    for i in range(34):
        rows.append(("Alpha", "A-3", add_months(date(2024, 1, 1), i), 50, 50 * 5.0))
        rows.append(("Beta", "B-1", add_months(date(2024, 1, 1), i), 30, 30 * 8.0))
    rows.append(("Alpha", "A-NEW", date(2026, 10, 1), 500, 500 * 4.0))
    return pl.DataFrame(rows, schema=["family", "sku", "month", "units", "revenue"], orient="row")


def _catalogue(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "new_products.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def _curves(tmp_path, *lines, horizon=18, **kwargs):
    return launch_curves(load_new_products(_catalogue(tmp_path, *lines)), _history(), CYCLE, horizon, **kwargs)


def test_analog_curve_has_the_analogs_shape_and_volume(tmp_path):
    plan = _curves(tmp_path, "N-1,Alpha,2026-11,A-1:0.5|A-2:0.5,,,,")
    units = plan["planned_units"].to_numpy()[: len(SHAPE)]
    assert np.corrcoef(units, SHAPE)[0, 1] > 0.95
    assert units.argmax() == int(np.argmax(SHAPE))
    # Scaled by the analogs' own peaks, weighted: 0.5 × 100 + 0.5 × 200.
    assert units.max() == pytest.approx(150.0)
    # Price: the weighted average of the analogs' prices (10 and 20).
    assert plan["unit_price"][0] == pytest.approx(15.0)
    assert plan["curve"][0] == "analogs"
    # Past the analogs' 12 observed months the curve stays at their settled level (60 → 90).
    assert plan["planned_units"][12:].to_list() == pytest.approx([90.0] * 6)


def test_expected_peak_rescales_the_analog_curve_and_launch_later_in_horizon(tmp_path):
    plan = _curves(tmp_path, "N-1,Alpha,2027-02,A-1,400,,0.25,")
    assert plan["month"][0] == date(2027, 2, 1)
    assert plan["months_since_launch"][0] == 0
    assert plan.height == 18 - 3
    assert plan["planned_units"].max() == pytest.approx(400.0)
    assert plan["planned_units"][3] == pytest.approx(400.0)
    assert (plan["cannibalized_units"] / plan["planned_units"]).to_list() == pytest.approx([0.25] * plan.height)
    assert (plan["planned_revenue"] / plan["planned_units"]).to_list() == pytest.approx([10.0] * plan.height)


def test_launched_before_cycle_starts_mid_curve(tmp_path):
    plan = _curves(tmp_path, "N-1,Alpha,2026-09,A-1,100,,,")
    assert plan["months_since_launch"][0] == 2
    assert plan["planned_units"][0] == pytest.approx(80.0)


def test_no_analog_uses_standard_ramp(tmp_path):
    plan = _curves(tmp_path, "N-1,Beta,2026-12,,200,4,,9.5", horizon=8)
    # Month m since launch plans 200 × min(1, (m + 1) / 4).
    assert plan["planned_units"].to_list() == pytest.approx([50, 100, 150, 200, 200, 200, 200])
    assert plan["curve"][0] == "standard ramp"
    assert plan["analog"][0] is None
    assert plan["unit_price"][0] == 9.5


def test_too_recent_analog_falls_back_to_ramp_and_family_price(tmp_path):
    plan = _curves(tmp_path, "N-1,Beta,2026-11,A-NEW,120,,,", horizon=8)
    assert plan["planned_units"][:6].to_list() == pytest.approx([20, 40, 60, 80, 100, 120])
    # Price comes from the analog when it has sold, even if its curve is too short.
    assert plan["unit_price"][0] == pytest.approx(4.0)


def test_family_price_when_no_analog_and_no_price(tmp_path):
    plan = _curves(tmp_path, "N-1,Beta,2026-11,,120,,,", horizon=2)
    assert plan["unit_price"][0] == pytest.approx(8.0)


def test_demo_catalogue_loads_and_plans():
    root = PROJECT_ROOT / "assets" / "demo"
    daily = pl.read_csv(root / "sales_history.csv", try_parse_dates=True)
    history = daily.group_by("family", "sku", month=pl.col("date").dt.truncate("1mo")).agg(
        pl.col("units").sum(), pl.col("revenue").sum())
    catalogue = load_new_products(root / "new_products.csv")
    plan = launch_curves(catalogue, history, CYCLE, 18)
    assert set(plan["product"]) == set(catalogue["product"])
    assert (plan["planned_units"] >= 0).all()
    assert plan["unit_price"].is_not_null().all()


def test_labor_hours(tmp_path):
    plan = _curves(tmp_path, "N-1,Beta,2026-12,,200,4,,", horizon=3)
    hours = labor_hours(plan, {"Beta": 1.5, "Alpha": 9.0})
    assert hours["labor_hours_required"].to_list() == pytest.approx([75.0, 150.0])
    with pytest.raises(SettingsError, match="Beta"):
        labor_hours(plan, {"Alpha": 1.0})


def test_a_launch_after_the_horizon_plans_nothing_and_needs_no_hours(tmp_path):
    """A catalogue whose launches all fall after the horizon (a backfilled early cycle of the demo) plans no
    rows; the hours column is still numbers (an empty rate mapping once left it text and the run failed)."""
    plan = _curves(tmp_path, "N-1,Beta,2029-06,,200,4,,", horizon=3)
    assert plan.is_empty()
    hours = labor_hours(plan, {})
    assert hours.is_empty() and hours.schema["labor_hours_required"] == pl.Float64


@pytest.mark.parametrize("line, column, words", [
    ("N-1,Alpha,2026-13,A-1,,,,", "launch_month", "YYYY-MM"),
    ("N-1,Alpha,2027-01,A-1:heavy,,,,", "analogs", "positive number"),
    ("N-1,Alpha,2027-01,A-1:-1,,,,", "analogs", "positive number"),
    ("N-1,Alpha,2027-01,,-5,,,", "expected_peak_units", "at least 0"),
    ("N-1,Alpha,2027-01,A-1,,2.5,,", "months_to_peak", "whole number"),
    ("N-1,Alpha,2027-01,A-1,,,1.5,", "cannibalization_share", "at most 1"),
    ("N-1,Alpha,2027-01,A-1,,,,-3", "unit_price", "at least 0"),
    ("N-1,Alpha,2027-01,,,,,", "expected_peak_units", "neither analogs nor expected_peak_units"),
    (",Alpha,2027-01,A-1,,,,", "product", "empty"),
    ("N-1,Alpha,2027-01,N-1,,,,", "analogs", "its own analog"),
])
def test_catalogue_validation_names_line_and_column(tmp_path, line, column, words):
    path = _catalogue(tmp_path, "OK-1,Alpha,2027-01,A-1,,,,", line)
    with pytest.raises(InputDataError) as info:
        load_new_products(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line 3, column {column}" in message
    assert words in message


def test_unknown_column_and_duplicate_product(tmp_path):
    path = tmp_path / "np.csv"
    path.write_text("product,family,launch_month,peak\nN-1,Alpha,2027-01,5\n")
    with pytest.raises(InputDataError, match="line 1, column peak: unknown column 'peak'"):
        load_new_products(path)
    with pytest.raises(InputDataError, match=r"line 3, column product: product 'N-1' is listed twice \(also line 2\)"):
        load_new_products(_catalogue(tmp_path, "N-1,Alpha,2027-01,,5,,,", "N-1,Alpha,2027-02,,5,,,"))


@pytest.mark.parametrize("line, column, words", [
    ("N-1,Gamma,2027-01,,10,,,", "family", "family 'Gamma' of product N-1 has no sales history"),
    ("A-3,Alpha,2027-01,,10,,,", "product", "already has sales history"),
    ("N-1,Alpha,2023-06,,10,,,", "launch_month", "before the sales history starts (2024-01)"),
    ("N-1,Alpha,2027-01,A-1|Z-9:2,,,,", "analogs", "Z-9 of N-1 are not in the sales history"),
    ("N-1,Alpha,2027-01,A-NEW,,,,", "expected_peak_units", "no analog of N-1 (A-NEW) has 6 months"),
])
def test_curve_errors_name_the_row(tmp_path, line, column, words):
    with pytest.raises(InputDataError) as info:
        _curves(tmp_path, "OK-1,Alpha,2027-01,A-1,,,,", line)
    message = str(info.value)
    assert f"line 3, column {column}" in message
    assert words in message


def test_missing_file_and_empty_catalogue(tmp_path):
    with pytest.raises(InputDataError, match="does not exist"):
        load_new_products(tmp_path / "nope.csv")
    empty = load_new_products(_catalogue(tmp_path))
    assert empty.is_empty()
    assert launch_curves(empty, _history(), CYCLE, 6).is_empty()
