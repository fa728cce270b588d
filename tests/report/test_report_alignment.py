"""The report opens with the decisions needed, shows the gap to budget as a key figure and a chart, and the
capacity of every work centre."""

from __future__ import annotations

import re
from datetime import date

import polars as pl

from sop_pipeline.alignment.budget import budget_gap
from sop_pipeline.alignment.exceptions import EXCEPTION_COLUMNS, EXCEPTION_SCHEMA
from sop_pipeline.report.html import DECISIONS_SHOWN, render_report
from tests.support.report_frames import CYCLE, report_frames


def _exceptions(n_medium: int) -> pl.DataFrame:
    rows = [{"severity": "medium", "kind": "below_safety_stock", "family": "Cookware", "sku": f"CKW-{i}",
             "resource": None, "month": date(2027, 1, 1), "value": 10.0, "threshold": 20.0,
             "money_at_stake": 1000.0 + i, "message": f"SKU CKW-{i} is below its safety stock"} for i in range(n_medium)]
    rows.append({"severity": "high", "kind": "units_short", "family": "Textiles", "sku": None, "resource": None,
                 "month": date(2027, 2, 1), "value": 5.0, "threshold": 0.0, "money_at_stake": 50.0,
                 "message": "Textiles cannot ship 5 units on time in 2027-02"})
    return pl.DataFrame(rows, schema=EXCEPTION_SCHEMA).select(EXCEPTION_COLUMNS)


def test_decisions_come_first_with_every_high_severity_one_ranked_by_money():
    frames = report_frames()
    plan = frames["demand_plan"]
    months = sorted(plan["month"].unique().to_list())[:3]
    budget = (plan.filter(pl.col("month").is_in(months)).group_by("family", "month")
              .agg((1.1 * pl.col("planned_units").sum()).alias("units"), (1.1 * pl.col("planned_revenue").sum())
                   .alias("revenue"))
              .with_columns(source=pl.lit("b.csv"), line=pl.lit(2, pl.Int64)))
    gap = budget_gap(budget, plan)
    page = render_report(CYCLE, **frames, exceptions=_exceptions(DECISIONS_SHOWN + 5), budget_gap=gap)
    decisions = page.index("Decisions needed")
    assert decisions < page.index('class="cards"') < page.index("Demand: history")
    table = page[decisions:page.index('class="cards"')]
    shown = re.findall(r"SKU CKW-(\d+) is below", table)
    # the high-severity exception is listed although its money at stake is the smallest, below the others
    assert "Textiles cannot ship 5 units on time" in table
    assert table.index("SKU CKW-") < table.index("Textiles cannot ship")
    assert len(shown) == DECISIONS_SHOWN - 1
    assert [int(i) for i in shown] == sorted(range(DECISIONS_SHOWN + 5), reverse=True)[:DECISIONS_SHOWN - 1]
    assert "1 high, 15 medium, 0 low severity" in table and "6 more in" in table
    # the gap to budget as a key figure (plan 10% below a budget 1.1 times the plan) and as a section
    total = gap.filter(pl.col("family") == "ALL FAMILIES")
    card = re.search(r'<div class="label">Gap to budget</div><div class="value">([^<]*)</div>'
                     r'<div class="note">([^<]*)</div>', page)
    assert card.group(1) == f"{total['revenue_gap'].sum():+,.0f}" and card.group(2).startswith("-9.1% revenue")
    assert "cumulative revenue gap (plan - budget)" in page


def test_no_exceptions_and_no_budget_say_so():
    page = render_report(CYCLE, **report_frames(), exceptions=_exceptions(0).head(0))
    assert "nothing needs a decision beyond approving the plan" in page
    assert "Gap to budget" in page and "no budget: set budget: in sop.yaml" in page
    assert "Capacity by work centre: not available" in page
