"""The capacity plan: the bottom-up resource requirement of the chosen plan, per work centre.

Per work centre of `planning.resources` (and `plant labour`, the families' own labour hours) and
month: the hours available, the hours the chosen plan uses, the hours the unconstrained demand plan
would need (planned units x hours per unit), and utilization = used / available; per family and for
ALL FAMILIES.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sop_pipeline.config.problem import Problem
from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply.tables import ALL_FAMILIES
from sop_pipeline.supply.work_centres import hours_available

PLANT_LABOUR = "plant labour"
CAPACITY_COLUMNS = ["resource", "family", "month", "strategy", "hours_available", "hours_required",
                    "hours_unconstrained", "utilization", "unconstrained_utilization"]


def capacity_plan(production_plan: pl.DataFrame, problems: dict[str, Problem], planning: PlanningSettings,
                  strategy: str | None = None) -> pl.DataFrame:
    """CAPACITY_COLUMNS per work centre (and `plant labour`), family (and ALL FAMILIES) and month.

    `production_plan`: PRODUCTION_COLUMNS rows; `strategy` selects the chosen plan (None: every row
    is). hours_required = hours per unit x (regular + overtime units) of the chosen plan (subcontracted
    units use none); hours_unconstrained = hours per unit x the month's demand (planned units);
    hours_available is the centre's hours that month, on family rows too, so a family's utilization
    is its share of the centre. Plant labour is limited only by `planning.shared_capacity` (null: no
    plant-wide limit). utilization = hours_required / hours_available and unconstrained_utilization
    = hours_unconstrained / hours_available; null where no hours are available or no limit is set.
    """
    rows = production_plan if strategy is None else production_plan.filter(pl.col("strategy") == strategy)
    if rows.is_empty():
        return pl.DataFrame(schema={c: (pl.String if c in ("resource", "family", "strategy") else
                                        pl.Date if c == "month" else pl.Float64) for c in CAPACITY_COLUMNS})
    months = sorted(rows["month"].unique().to_list())
    names = [f"{m:%Y-%m}" for m in months]
    rates = [(PLANT_LABOUR, family, p.production.labor_hours_per_unit) for family, p in problems.items()]
    shared = planning.shared_capacity
    available = [(PLANT_LABOUR, m, None if shared is None else float(shared)) for m in months]
    for resource in planning.resources:
        rates += [(resource.name, f, float(h)) for f, h in resource.hours_per_unit.items() if h > 0]
        hours = hours_available(resource, names)
        available += [(resource.name, m, float(h) if np.isfinite(h) else None) for m, h in zip(months, hours)]
    rate_frame = pl.DataFrame(rates, orient="row",
                              schema={"resource": pl.String, "family": pl.String, "hours_per_unit": pl.Float64})
    available_frame = pl.DataFrame(available, orient="row",
                                   schema={"resource": pl.String, "month": pl.Date, "hours_available": pl.Float64})
    per_family = rows.join(rate_frame, on="family").select(
        "resource", "family", "month", "strategy",
        hours_required=pl.col("hours_per_unit") * (pl.col("regular_units") + pl.col("overtime_units")),
        hours_unconstrained=pl.col("hours_per_unit") * pl.col("demand"))
    total = (per_family.sort("resource", "month", "strategy", "family")
             .group_by("resource", "month", "strategy", maintain_order=True)
             .agg(pl.col("hours_required", "hours_unconstrained").sum())
             .with_columns(family=pl.lit(ALL_FAMILIES)))
    order = {name: i for i, name in enumerate([PLANT_LABOUR, *[r.name for r in planning.resources]])}
    available_hours = pl.col("hours_available")

    def share(column: str) -> pl.Expr:
        return pl.when(available_hours > 0).then(pl.col(column) / available_hours).otherwise(None)

    return (pl.concat([per_family, total.select(per_family.columns)])
            .join(available_frame, on=["resource", "month"], how="left")
            .with_columns(utilization=share("hours_required"), unconstrained_utilization=share("hours_unconstrained"))
            .with_columns(_order=pl.col("resource").replace_strict(order, return_dtype=pl.Int64),
                          _total=pl.col("family") == ALL_FAMILIES)
            .sort("_order", "_total", "family", "month").select(CAPACITY_COLUMNS))


def capacity_errors(capacity: pl.DataFrame) -> list[str]:
    """Where the chosen plan uses more of a work centre than it has, or utilization is not used / available."""
    if capacity.is_empty():
        return []
    errors = []
    totals = capacity.filter(pl.col("hours_available").is_not_null() & (pl.col("family") == ALL_FAMILIES))
    over = totals.filter(pl.col("hours_required") > pl.col("hours_available") * (1 + 1e-6) + 1e-4)
    if over.height:
        first = over.row(0, named=True)
        errors.append(f"{over.height} work-centre months over their hours, e.g. {first['resource']} needs "
                      f"{first['hours_required']:,.0f} h in {first['month']:%Y-%m}; {first['hours_available']:,.0f} "
                      "are available")
    ratio = capacity.filter(pl.col("hours_available") > 0).with_columns(
        gap=(pl.col("utilization") - pl.col("hours_required") / pl.col("hours_available")).abs())
    if (bad := ratio.filter(pl.col("gap").is_null() | (pl.col("gap") > 1e-9))).height:
        errors.append(f"utilization is not hours_required / hours_available in {bad.height} rows")
    return errors


def peak_utilization(totals: pl.DataFrame) -> pl.DataFrame:
    """Each work centre's most loaded month (of the ALL FAMILIES rows): hours available, required by the
    plan, needed unconstrained, and utilization."""
    return (totals.sort("utilization", descending=True, nulls_last=True).group_by("resource", maintain_order=True)
            .first().select("resource", "month", "hours_available", "hours_required", "hours_unconstrained",
                            "utilization"))
