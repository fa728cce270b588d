"""The budget (annual operating plan) and the plan's gap to it.

The budget file (`budget:` in sop.yaml, CSV or whatever `read_text_table` reads) has one row per
family and month:

| column | required | meaning |
|---|---|---|
| `family` | yes | a family of the plan |
| `month` | yes | `YYYY-MM` |
| `units` | one of units/revenue | budgeted units |
| `revenue` | one of units/revenue | budgeted revenue |

`budget_gap` compares it with the demand plan (planned units and revenue per family and month):
gap = plan - budget, gap % = gap / budget x 100, and the cumulative revenue gap over the months the
budget covers. Budget months before the cycle are history, not plan: they are left out (and counted,
so the run can say so). A family the plan does not have, or a month after the horizon, is an error
naming the line.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from sop_pipeline.common.limits import MAX_VALUE
from sop_pipeline.common.months import parse_month
from sop_pipeline.common.readers import Problems, parse_number, read_text_table
from sop_pipeline.supply.tables import ALL_FAMILIES

WHAT = "budget file"
REQUIRED = ("family", "month")
OPTIONAL = ("units", "revenue")
BUDGET_SCHEMA = {"source": pl.String, "line": pl.Int64, "family": pl.String, "month": pl.Date,
                 "units": pl.Float64, "revenue": pl.Float64}
GAP_COLUMNS = ["family", "month", "budget_units", "planned_units", "units_gap", "units_gap_pct",
               "budget_revenue", "planned_revenue", "revenue_gap", "revenue_gap_pct", "cumulative_units_gap",
               "cumulative_revenue_gap"]


def load_budget(path: str | Path) -> pl.DataFrame:
    """Read and validate the budget: BUDGET_SCHEMA rows. Raises InputDataError listing every bad cell."""
    frame = read_text_table(path, WHAT, REQUIRED, OPTIONAL)
    problems = Problems(path, WHAT)
    rows, seen = [], {}
    for row in frame.iter_rows(named=True):
        line = row["line"]
        if row["family"] is None:
            problems.add(line, "family", "family is empty; name the product family this budget row is for")
        month = parse_month(row["month"]) if row["month"] is not None else None
        if month is None:
            problems.add(line, "month", f"{row['month']!r} is not a month; write YYYY-MM, e.g. 2027-01")
        values = {}
        for column in OPTIONAL:
            text = row[column]
            values[column] = parse_number(text) if text is not None else None
            if text is not None and (values[column] is None or values[column] < 0):
                problems.add(line, column, f"{text!r} is not a number >= 0 of at most {MAX_VALUE:g}; "
                                           "write the budgeted amount, e.g. 1200")
        if row["units"] is None and row["revenue"] is None:
            problems.add(line, "units", "neither units nor revenue is given; budget at least one of them")
        key = (row["family"], month)
        if row["family"] is not None and month is not None:
            if key in seen:
                problems.add(line, "month", f"{row['family']} {month:%Y-%m} is budgeted twice (also on line "
                                            f"{seen[key]}); keep one row per family and month")
            seen.setdefault(key, line)
        rows.append({"source": str(path), "line": line, "family": row["family"], "month": month, **values})
    problems.raise_if_any("Correct these rows and run again; the columns are family, month, units and/or revenue")
    return pl.DataFrame(rows, schema=BUDGET_SCHEMA)


def check_budget(budget: pl.DataFrame, families: list[str], months: list[date]) -> pl.DataFrame:
    """The budget rows of the plan's horizon. A family the plan does not have, or a month after the
    horizon, raises InputDataError naming the line; months before the cycle are dropped (history)."""
    if budget.is_empty():
        return budget
    problems = Problems(budget["source"][0], WHAT)
    for row in budget.iter_rows(named=True):
        if row["family"] not in families:
            problems.add(row["line"], "family", f"family {row['family']!r} is not in the plan; use one of "
                                                f"{', '.join(sorted(families))}")
        if row["month"] > months[-1]:
            problems.add(row["line"], "month", f"{row['month']:%Y-%m} is after the plan's horizon "
                                               f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}; remove the row or plan "
                                               "further ahead (forecast.horizon_months)")
    problems.raise_if_any("Correct these rows of the budget file and run again")
    return budget.filter(pl.col("month") >= months[0])


def budget_gap(budget: pl.DataFrame, demand_plan: pl.DataFrame) -> pl.DataFrame:
    """GAP_COLUMNS per family and month the budget covers, plus an ALL FAMILIES row per month.

    `budget`: rows of `load_budget` (checked by `check_budget`); `demand_plan`: rows of
    `sop.demand_plan` (family, month, planned_units, planned_revenue). Each comparison uses the
    rows that budget it: a family budgeted in revenue only has no units gap, and the ALL FAMILIES
    units compare the planned units of the families budgeted in units that month (so its gap is
    the sum of theirs). The cumulative gaps run over the budget's months in order, per family and
    for ALL FAMILIES; gap % is null where the budget is zero.
    """
    if budget.is_empty():
        return pl.DataFrame(schema={c: (pl.String if c == "family" else pl.Date if c == "month" else pl.Float64)
                                    for c in GAP_COLUMNS})
    revenue = (pl.col("planned_revenue") if "planned_revenue" in demand_plan.columns
               else pl.lit(None, pl.Float64)).alias("planned_revenue")
    # Fixed row and group order: float sums add in the same order on every run (identical reruns).
    plan = demand_plan.sort("family", "month", "sku").group_by("family", "month", maintain_order=True).agg(
        pl.col("planned_units").sum(),
        # null, not 0, when the plan has no prices (no revenue column in the sales files)
        pl.when(revenue.count() > 0).then(revenue.sum()).alias("planned_revenue"))
    rows = (budget.select("family", "month", budget_units="units", budget_revenue="revenue")
            .join(plan, on=["family", "month"], how="left")
            .with_columns(pl.col("planned_units").fill_null(0.0)))
    units_rows = pl.col("budget_units").is_not_null()
    revenue_rows = pl.col("budget_revenue").is_not_null()
    total = rows.sort("month", "family").group_by("month", maintain_order=True).agg(
        _sum_where("budget_units", units_rows), _sum_where("planned_units", units_rows),
        _sum_where("budget_revenue", revenue_rows), _sum_where("planned_revenue", revenue_rows),
    ).with_columns(family=pl.lit(ALL_FAMILIES))
    both = pl.concat([rows.select(total.columns), total], how="vertical_relaxed")
    gaps = both.with_columns(
        units_gap=pl.col("planned_units") - pl.col("budget_units"),
        revenue_gap=pl.col("planned_revenue") - pl.col("budget_revenue"),
    ).with_columns(
        units_gap_pct=_pct("units_gap", "budget_units"),
        revenue_gap_pct=_pct("revenue_gap", "budget_revenue"),
    ).sort("family", "month").with_columns(
        cumulative_units_gap=pl.col("units_gap").cum_sum().over("family"),
        cumulative_revenue_gap=pl.col("revenue_gap").cum_sum().over("family"),
    )
    return (gaps.with_columns(_total=pl.col("family") == ALL_FAMILIES)
            .sort("_total", "family", "month").select(GAP_COLUMNS))


def _sum_where(column: str, condition: pl.Expr) -> pl.Expr:
    """The column's sum over the rows where `condition` holds; null where there are none."""
    picked = pl.col(column).filter(condition)
    return pl.when(picked.count() > 0).then(picked.sum()).otherwise(None).alias(column)


def _pct(gap: str, base: str) -> pl.Expr:
    return pl.when(pl.col(base) > 0).then(100 * pl.col(gap) / pl.col(base)).otherwise(None)


def gap_errors(gap: pl.DataFrame) -> list[str]:
    """The published gap holds: gap = plan - budget and the ALL FAMILIES rows are the families' sums, to the cent."""
    if gap.is_empty():
        return []
    errors = []
    for measure in ("units", "revenue"):
        diff = (pl.col(f"planned_{measure}") - pl.col(f"budget_{measure}") - pl.col(f"{measure}_gap")).abs()
        if (bad := gap.filter(diff >= 0.005)).height:
            errors.append(f"{measure}_gap is not planned - budget in {bad.height} rows")
    families = gap.filter(pl.col("family") != ALL_FAMILIES).group_by("month").agg(
        pl.col("units_gap", "revenue_gap").sum())
    totals = gap.filter(pl.col("family") == ALL_FAMILIES).join(families, on="month", suffix="_families")
    for column in ("units_gap", "revenue_gap"):
        diff = (pl.col(column).fill_null(0) - pl.col(f"{column}_families")).abs()
        if (bad := totals.filter(diff >= 0.005)).height:
            errors.append(f"ALL FAMILIES {column} is not the sum of the families' in {bad.height} months")
    return errors


def budget_in_horizon(budget: pl.DataFrame, demand_plan: pl.DataFrame) -> pl.DataFrame:
    """The budget rows of the demand plan's months (`check_budget` against its families); none without a plan."""
    months = sorted(demand_plan["month"].unique().to_list())
    if not months:
        return budget.clear()
    return check_budget(budget, sorted(demand_plan["family"].unique().to_list()), months)


def gap_by_family(gap: pl.DataFrame) -> pl.DataFrame:
    """Budget and plan, units and revenue, and their gaps, summed over the months per family."""
    return (gap.filter(pl.col("family") != ALL_FAMILIES).group_by("family")
            .agg(pl.col("budget_units", "planned_units", "units_gap", "budget_revenue", "planned_revenue",
                        "revenue_gap").sum()).sort("family"))
