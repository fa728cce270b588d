"""People, hours and money per family and month: the operating plan (`sop.operating_plan`)."""

from __future__ import annotations

import polars as pl

from sop_pipeline.supply.problems import family_demand
from sop_pipeline.supply.tables import ALL_FAMILIES, chosen_rows, sum_or_null

LABOR_COST_COLUMNS = ["regular_labor_cost", "overtime_cost", "hiring_cost", "layoff_cost"]
OPERATING_COLUMNS = [
    "family", "month", "headcount", "hires", "layoffs", "regular_hours", "overtime_hours", "subcontract_units",
    *LABOR_COST_COLUMNS, "labor_cost", "material_cost", "subcontract_cost", "holding_cost", "backlog_cost",
    "total_cost", "planned_units", "planned_revenue", "gross_margin",
]


def operating_plan(production_plan: pl.DataFrame, demand_plan: pl.DataFrame,
                   strategy: str | None = None) -> pl.DataFrame:
    """People, hours and money per family and month, plus an all-families total (family 'ALL FAMILIES').

    Every cost is the chosen production plan's own cost column (so the money matches it to the
    cent); labor_cost = regular labour + overtime + hiring + layoff cost; planned units and revenue
    come from the demand plan; gross_margin = planned_revenue - total_cost (both null without revenue).
    """
    chosen = chosen_rows(production_plan, strategy)
    demand = family_demand(demand_plan)
    per_family = chosen.join(demand, on=["family", "month"], how="left").with_columns(
        headcount=pl.col("workforce"),
        labor_cost=pl.sum_horizontal(LABOR_COST_COLUMNS),
        planned_units=pl.col("planned_units").fill_null(0.0),
    ).with_columns(gross_margin=pl.col("planned_revenue") - pl.col("total_cost")).select(OPERATING_COLUMNS)
    money = ("planned_revenue", "gross_margin")  # null without revenue, in the total too
    total = (per_family.group_by("month").agg(pl.col([c for c in OPERATING_COLUMNS[2:] if c not in money]).sum(),
                                              *(sum_or_null(c) for c in money))
             .with_columns(family=pl.lit(ALL_FAMILIES)).select(OPERATING_COLUMNS))
    return pl.concat([per_family.sort(["family", "month"]), total.sort("month")])
