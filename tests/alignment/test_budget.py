"""The budget file and the gap to it: gap = plan - budget to the cent, cumulative sums, row-level errors."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from sop_pipeline.alignment.budget import ALL_FAMILIES, budget_gap, check_budget, gap_errors, load_budget
from sop_pipeline.common.errors import InputDataError
from sop_pipeline.common.resources import DEMO_DIR

MONTHS = [date(2027, m, 1) for m in (1, 2, 3)]


def _plan() -> pl.DataFrame:
    """Two SKUs per family; revenue with cents so sums test the arithmetic."""
    rows = []
    for family, base, price in (("Cookware", 1000, 60.37), ("Textiles", 400, 18.66)):
        for k, month in enumerate(MONTHS):
            for sku, share in (("a", 0.6), ("b", 0.4)):
                units = round(base * (1 + 0.1 * k) * share, 2)
                rows.append({"family": family, "sku": f"{family}-{sku}", "month": month, "planned_units": units,
                             "planned_revenue": round(units * price, 2)})
    return pl.DataFrame(rows)


def _budget_file(tmp_path, text: str):
    path = tmp_path / "budget.csv"
    path.write_text(text)
    return path


def test_gap_is_plan_minus_budget_to_the_cent_with_cumulative_sums(tmp_path):
    path = _budget_file(tmp_path, "family,month,units,revenue\n"
                                  "Cookware,2027-01,1100,61000.10\nCookware,2027-02,1000,70000\n"
                                  "Cookware,2027-03,1200,71234.56\nTextiles,2027-01,380,7000\n"
                                  "Textiles,2027-02,,8000.25\nTextiles,2027-03,500,\n")
    plan = _plan()
    gap = budget_gap(check_budget(load_budget(path), ["Cookware", "Textiles"], MONTHS), plan)
    assert gap_errors(gap) == []
    planned = {(f, m): (u, r) for f, m, u, r in plan.group_by("family", "month").agg(
        pl.col("planned_units").sum(), pl.col("planned_revenue").sum()).iter_rows()}
    budget = {("Cookware", MONTHS[0]): (1100, 61000.10), ("Cookware", MONTHS[1]): (1000, 70000),
              ("Cookware", MONTHS[2]): (1200, 71234.56), ("Textiles", MONTHS[0]): (380, 7000),
              ("Textiles", MONTHS[1]): (None, 8000.25), ("Textiles", MONTHS[2]): (500, None)}
    rows = {(r["family"], r["month"]): r for r in gap.iter_rows(named=True)}
    cumulative = {}
    for (family, month), (b_units, b_revenue) in sorted(budget.items()):
        row, (p_units, p_revenue) = rows[(family, month)], planned[(family, month)]
        assert row["planned_units"] == pytest.approx(p_units, abs=0.005)
        if b_units is None:
            assert row["units_gap"] is None
        else:
            assert abs(row["units_gap"] - (p_units - b_units)) < 0.005
            assert row["units_gap_pct"] == pytest.approx(100 * (p_units - b_units) / b_units)
        if b_revenue is None:
            assert row["revenue_gap"] is None
        else:
            assert abs(row["revenue_gap"] - (p_revenue - b_revenue)) < 0.005
            cumulative[family] = cumulative.get(family, 0.0) + p_revenue - b_revenue
        if row["revenue_gap"] is not None:
            assert abs(row["cumulative_revenue_gap"] - cumulative[family]) < 0.005
    # ALL FAMILIES: each month the sum over the families budgeting that measure; cumulative over the months
    running = 0.0
    for month in MONTHS:
        total = rows[(ALL_FAMILIES, month)]
        fams = [f for f in ("Cookware", "Textiles") if budget[(f, month)][1] is not None]
        expected = sum(planned[(f, month)][1] - budget[(f, month)][1] for f in fams)
        running += expected
        assert abs(total["revenue_gap"] - expected) < 0.005
        assert abs(total["budget_revenue"] - sum(budget[(f, month)][1] for f in fams)) < 0.005
        assert abs(total["cumulative_revenue_gap"] - running) < 0.005
        unit_fams = [f for f in ("Cookware", "Textiles") if budget[(f, month)][0] is not None]
        assert abs(total["planned_units"] - sum(planned[(f, month)][0] for f in unit_fams)) < 0.005
    # the check catches a gap that is not plan - budget
    broken = gap.with_columns(revenue_gap=pl.col("revenue_gap") + 0.01)
    assert gap_errors(broken)


def test_bad_budget_rows_are_reported_with_line_and_column(tmp_path):
    path = _budget_file(tmp_path, "family,month,units,revenue\n"
                                  "Cookware,2027-13,100,\n,2027-01,100,\nCookware,2027-02,-5,\n"
                                  "Cookware,2027-03,,\nCookware,2027-02,10,abc\n")
    with pytest.raises(InputDataError) as info:
        load_budget(path)
    problems = info.value.problems
    assert "line 2, column month: '2027-13' is not a month; write YYYY-MM, e.g. 2027-01" in problems
    assert any(p.startswith("line 3, column family: family is empty") for p in problems)
    assert any(p.startswith("line 4, column units: '-5' is not a number >= 0") for p in problems)
    assert any(p.startswith("line 5, column units: neither units nor revenue is given") for p in problems)
    assert any(p.startswith("line 6, column revenue: 'abc' is not a number") for p in problems)
    assert any(p.startswith("line 6, column month: Cookware 2027-02 is budgeted twice (also on line 4)")
               for p in problems)
    assert str(path) in info.value.message
    header = _budget_file(tmp_path, "family,month,amount\nCookware,2027-01,5\n")
    with pytest.raises(InputDataError, match="unknown column 'amount'"):
        load_budget(header)


def test_unknown_families_and_months_after_the_horizon_are_errors_past_months_are_history(tmp_path):
    path = _budget_file(tmp_path, "family,month,units\nCookwear,2027-01,5\nCookware,2027-04,5\n"
                                  "Cookware,2026-12,5\nCookware,2027-02,5\n")
    budget = load_budget(path)
    with pytest.raises(InputDataError) as info:
        check_budget(budget, ["Cookware", "Textiles"], MONTHS)
    assert info.value.problems == [
        "line 2, column family: family 'Cookwear' is not in the plan; use one of Cookware, Textiles",
        "line 3, column month: 2027-04 is after the plan's horizon 2027-01..2027-03; remove the row or plan "
        "further ahead (forecast.horizon_months)"]
    kept = check_budget(budget.filter(pl.col("line") >= 4), ["Cookware"], MONTHS)
    assert kept["month"].to_list() == [date(2027, 2, 1)]  # 2026-12 is before the cycle: history, not compared


def test_the_demo_budget_reads_and_has_families_above_and_below_plan():
    budget = load_budget(DEMO_DIR / "budget.csv")
    assert budget.height == 6 * 12 and budget["units"].null_count() == 0
    assert budget["month"].min() == date(2027, 1, 1) and budget["month"].max() == date(2027, 12, 1)
