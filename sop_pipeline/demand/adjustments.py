"""Consensus adjustments: the planners' overrides of the forecast, with a reason for each.

The file (`adjustments.csv`, one change per row) has these columns:

| column | required | meaning |
|---|---|---|
| `family` | one of family/sku | adjust a whole product family |
| `sku` | one of family/sku | one SKU (a new product's id works too); if `family` is also given, the SKU must belong to it |
| `month` | yes | `YYYY-MM`, a month of the plan's horizon |
| `units` | exactly one of units/percent | signed change in units: `+500` adds 500 units, `-200` removes 200 |
| `percent` | exactly one of units/percent | relative change: `10` = +10 %, `-25` = -25 % (not below -100) |
| `reason` | yes | why (shown in the demand plan's `adjustment_reasons`) |
| `author` | no | who agreed it |

How they apply (`apply_adjustments`):
- Every row is measured against the unadjusted plan (statistical forecast plus new-product units
  less cannibalisation, never below zero): rows do not compound, and several rows on the same
  SKU-month add up.
- A family row is spread over the family's SKUs in that month in proportion to their unadjusted
  units (equally if they are all zero), so the family total changes by exactly the row's amount
  and the mix within the family is kept. A percent row changes every SKU by that percent.
- Planned units never go below zero: `planned_units = max(0, unadjusted + requested change)`.
  `adjustment_units` is the change actually made (it differs from the request only where the
  floor cut it; `adjustment_requested` keeps the request).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from sop_pipeline.common.limits import MAX_VALUE
from sop_pipeline.common.months import add_months, parse_month
from sop_pipeline.common.readers import Problems, parse_number, read_text_table

WHAT = "adjustments file"
REQUIRED = ("month", "reason")
OPTIONAL = ("family", "sku", "units", "percent", "author")
ADJUSTMENT_SCHEMA = {
    "source": pl.String, "line": pl.Int64, "family": pl.String, "sku": pl.String, "month": pl.Date,
    "units": pl.Float64, "percent": pl.Float64, "reason": pl.String, "author": pl.String,
}


def load_adjustments(path: str | Path) -> pl.DataFrame:
    """Read and validate the adjustments; one row per change with `ADJUSTMENT_SCHEMA` columns.

    Raises InputDataError listing every bad cell (line, column, value and what to write).
    """
    frame = read_text_table(path, WHAT, REQUIRED, OPTIONAL)
    problems = Problems(path, WHAT)
    rows = []
    for row in frame.iter_rows(named=True):
        line = row["line"]
        if row["family"] is None and row["sku"] is None:
            problems.add(line, "family", "neither family nor sku is given; name the family or the SKU to adjust")
        month = parse_month(row["month"]) if row["month"] is not None else None
        if month is None:
            problems.add(line, "month", f"{row['month']!r} is not a month; write YYYY-MM, e.g. 2027-01")
        if row["reason"] is None:
            problems.add(line, "reason", "reason is empty; say why the plan changes (it is shown in the plan)")
        values = {}
        for column in ("units", "percent"):
            text = row[column]
            values[column] = parse_number(text) if text is not None else None
            if text is not None and values[column] is None:
                problems.add(line, column, f"{text!r} is not a number of at most {MAX_VALUE:g} in size; "
                                          "write a signed number such as -200 or 15")
        if (row["units"] is None) == (row["percent"] is None):
            problems.add(line, "units", "give exactly one of units (a signed change in units) and percent "
                                        "(a relative change, 10 = +10%)")
        if values["percent"] is not None and values["percent"] < -100:
            problems.add(line, "percent", f"{row['percent']} would make demand negative; the lowest is -100")
        rows.append({"source": str(path), "line": line, "family": row["family"], "sku": row["sku"],
                     "month": month, "units": values["units"], "percent": values["percent"],
                     "reason": row["reason"], "author": row["author"]})
    problems.raise_if_any("Correct these rows and run again; the columns are described in the README")
    return pl.DataFrame(rows, schema=ADJUSTMENT_SCHEMA)


def _check_targets(plan: pl.DataFrame, adjustments: pl.DataFrame, months: list[date]) -> None:
    """Every row names a family/SKU of the plan and a month of the horizon, or InputDataError."""
    if adjustments.is_empty():
        return
    family_of = dict(plan.select("sku", "family").unique().iter_rows())
    families = set(family_of.values())
    problems = Problems(adjustments["source"][0], WHAT)
    for row in adjustments.iter_rows(named=True):
        line, sku, family = row["line"], row["sku"], row["family"]
        if sku is not None and sku not in family_of:
            problems.add(line, "sku", f"SKU {sku!r} is not in the plan (no forecast and not a new product); "
                                      "check the id or remove the row")
        elif sku is not None and family is not None and family_of[sku] != family:
            problems.add(line, "family", f"SKU {sku} belongs to family {family_of[sku]!r}, not {family!r}; "
                                         "correct the family or leave it empty")
        elif sku is None and family not in families:
            problems.add(line, "family", f"family {family!r} is not in the plan; use one of {', '.join(sorted(families))}")
        if row["month"] not in months:
            problems.add(line, "month", f"{row['month']:%Y-%m} is outside the plan's horizon "
                                        f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}; adjust a month of the horizon")
    problems.raise_if_any("Correct these rows of the adjustments file and run again")


def apply_adjustments(plan: pl.DataFrame, adjustments: pl.DataFrame, cycle: date | None = None,
                      horizon_months: int | None = None, base: str = "unadjusted_units") -> pl.DataFrame:
    """The plan with `adjustment_requested, adjustment_units, planned_units, adjustment_reasons`.

    `plan` has one row per `family, sku, month` and the unadjusted units in column `base`
    (non-negative); `adjustments` comes from `load_adjustments`. The horizon is cycle ..
    cycle + horizon_months - 1 when given, else the plan's months. Rows naming an unknown
    family or SKU, or a month outside the horizon, raise InputDataError naming the row.
    """
    if cycle is not None and horizon_months is not None:
        months = [add_months(cycle, i) for i in range(horizon_months)]
    else:
        months = sorted(plan["month"].unique())
    _check_targets(plan, adjustments, months)
    keys = ["family", "sku", "month"]
    if adjustments.is_empty():
        return plan.with_columns(adjustment_requested=pl.lit(0.0), adjustment_units=pl.lit(0.0),
                                 planned_units=pl.col(base).clip(lower_bound=0.0),
                                 adjustment_reasons=pl.lit(None, dtype=pl.String))
    label = pl.concat_str(
        pl.col("reason"),
        pl.when(pl.col("author").is_not_null()).then(pl.format(" ({})", pl.col("author"))).otherwise(pl.lit("")))
    rows = adjustments.with_row_index("order").with_columns(label=label)
    cells = plan.select(*keys, base)
    # SKU rows touch their own cell; family rows touch every SKU of the family in that month.
    sku_rows = rows.filter(pl.col("sku").is_not_null()).drop("family").join(cells, on=["sku", "month"])
    family_rows = rows.filter(pl.col("sku").is_null()).drop("sku").join(cells, on=["family", "month"])
    family_rows = family_rows.with_columns(
        total=pl.col(base).sum().over("order"), n=pl.len().over("order"))
    share = (pl.when(pl.col("total") > 0).then(pl.col(base) / pl.col("total"))
             .otherwise(1.0 / pl.col("n")))
    family_rows = family_rows.with_columns(
        change=pl.when(pl.col("units").is_not_null()).then(pl.col("units") * share)
        .otherwise(pl.col(base) * pl.col("percent") / 100.0))
    sku_rows = sku_rows.with_columns(
        change=pl.when(pl.col("units").is_not_null()).then(pl.col("units"))
        .otherwise(pl.col(base) * pl.col("percent") / 100.0))
    changes = (pl.concat([sku_rows.select(*keys, "order", "change", "label"),
                          family_rows.select(*keys, "order", "change", "label")])
               .sort("order")
               .group_by(keys, maintain_order=True)
               .agg(adjustment_requested=pl.col("change").sum(),
                    adjustment_reasons=pl.col("label").unique(maintain_order=True).str.join("; ")))
    out = plan.join(changes, on=keys, how="left").with_columns(pl.col("adjustment_requested").fill_null(0.0))
    planned = (pl.col(base).clip(lower_bound=0.0) + pl.col("adjustment_requested")).clip(lower_bound=0.0)
    return out.with_columns(planned_units=planned).with_columns(
        adjustment_units=pl.col("planned_units") - pl.col(base).clip(lower_bound=0.0))
