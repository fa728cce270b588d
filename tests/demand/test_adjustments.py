"""Consensus adjustments: hand-worked small cases and every validation message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sop_pipeline.common.errors import InputDataError
from sop_pipeline.demand.adjustments import apply_adjustments, load_adjustments
from tests.support.files import PROJECT_ROOT

HEADER = "family,sku,month,units,percent,reason,author\n"
NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


def _plan() -> pl.DataFrame:
    return pl.DataFrame({
        "family": ["A", "A", "A", "A", "B", "B"],
        "sku": ["a1", "a2", "a1", "a2", "b1", "b1"],
        "month": [NOV, NOV, DEC, DEC, NOV, DEC],
        "unadjusted_units": [10.0, 30.0, 0.0, 0.0, 5.0, 8.0],
    })


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "adjustments.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def _apply(tmp_path, *lines):
    out = apply_adjustments(_plan(), load_adjustments(_file(tmp_path, *lines)))
    return {(r["sku"], r["month"]): r for r in out.iter_rows(named=True)}


def test_family_units_spread_by_planned_units(tmp_path):
    out = _apply(tmp_path, "A,,2026-11,+100,,promo,ann")
    assert out[("a1", NOV)]["adjustment_units"] == pytest.approx(25.0)
    assert out[("a2", NOV)]["adjustment_units"] == pytest.approx(75.0)
    assert out[("a1", NOV)]["planned_units"] == pytest.approx(35.0)
    assert out[("b1", NOV)]["adjustment_units"] == 0.0
    assert out[("a1", NOV)]["adjustment_reasons"] == "promo (ann)"
    assert out[("b1", NOV)]["adjustment_reasons"] is None


def test_family_with_zero_plan_is_spread_equally(tmp_path):
    out = _apply(tmp_path, "A,,2026-12,50,,restock,")
    assert out[("a1", DEC)]["planned_units"] == pytest.approx(25.0)
    assert out[("a2", DEC)]["planned_units"] == pytest.approx(25.0)
    assert out[("a1", DEC)]["adjustment_reasons"] == "restock"


def test_percent_rows_and_rows_that_add_up(tmp_path):
    out = _apply(tmp_path, "A,,2026-11,,10,a,", ",a2,2026-11,-6,,b,", "B,b1,2026-11,,-100,c,")
    # Rows do not compound: 10 % of 30 (= 3) plus -6 on a2.
    assert out[("a2", NOV)]["adjustment_units"] == pytest.approx(-3.0)
    assert out[("a2", NOV)]["adjustment_reasons"] == "a; b"
    assert out[("a1", NOV)]["adjustment_units"] == pytest.approx(1.0)
    assert out[("b1", NOV)]["planned_units"] == 0.0


def test_floor_at_zero_keeps_the_request(tmp_path):
    out = _apply(tmp_path, ",b1,2026-12,-20,,over,")
    assert out[("b1", DEC)]["planned_units"] == 0.0
    assert out[("b1", DEC)]["adjustment_units"] == pytest.approx(-8.0)
    assert out[("b1", DEC)]["adjustment_requested"] == pytest.approx(-20.0)


def test_demo_adjustments_load():
    frame = load_adjustments(PROJECT_ROOT / "assets" / "demo" / "adjustments.csv")
    assert frame.height >= 5
    assert ((frame["units"].is_null()) != (frame["percent"].is_null())).all()


@pytest.mark.parametrize("line, column, words", [
    (",,2026-11,5,,r,", "family", "neither family nor sku"),
    ("A,,Nov 2026,5,,r,", "month", "'Nov 2026' is not a month"),
    ("A,,2026-11,5,10,r,", "units", "exactly one of units"),
    ("A,,2026-11,,,r,", "units", "exactly one of units"),
    ("A,,2026-11,lots,,r,", "units", "'lots' is not a number"),
    ("A,,2026-11,,-150,r,", "percent", "the lowest is -100"),
    ("A,,2026-11,5,,,", "reason", "reason is empty"),
])
def test_file_validation_names_line_and_column(tmp_path, line, column, words):
    path = _file(tmp_path, "A,,2026-11,5,,fine,", line)
    with pytest.raises(InputDataError) as info:
        load_adjustments(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line 3, column {column}" in message
    assert words in message


def test_unknown_column(tmp_path):
    path = tmp_path / "adj.csv"
    path.write_text("family,month,delta,reason\nA,2026-11,5,r\n")
    with pytest.raises(InputDataError, match="line 1, column delta: unknown column 'delta'"):
        load_adjustments(path)


@pytest.mark.parametrize("line, column, words", [
    ("C,,2026-11,5,,r,", "family", "family 'C' is not in the plan"),
    (",zz,2026-11,5,,r,", "sku", "SKU 'zz' is not in the plan"),
    ("B,a1,2026-11,5,,r,", "family", "SKU a1 belongs to family 'A', not 'B'"),
    ("A,,2027-01,5,,r,", "month", "2027-01 is outside the plan's horizon 2026-11..2026-12"),
])
def test_targets_outside_the_plan_name_the_row(tmp_path, line, column, words):
    path = _file(tmp_path, "A,,2026-11,5,,fine,", line)
    with pytest.raises(InputDataError) as info:
        apply_adjustments(_plan(), load_adjustments(path))
    message = str(info.value)
    assert str(path) in message and f"line 3, column {column}" in message and words in message


def test_explicit_horizon(tmp_path):
    path = _file(tmp_path, "A,,2027-01,5,,r,")
    with pytest.raises(InputDataError, match="outside the plan's horizon 2026-10..2026-12"):
        apply_adjustments(_plan(), load_adjustments(path), cycle=date(2026, 10, 1), horizon_months=3)
