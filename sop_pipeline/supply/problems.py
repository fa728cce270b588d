"""The cycle's aggregate-planning problems: one per family of the demand plan, from `planning` settings.

Periods are the demand plan's months, with their working days (weekdays) and the family's safety
stock; parameters are `planning.defaults` with `planning.families[F]` on top (`config.problem`).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from sop_pipeline.common.errors import InputDataError, SettingsError
from sop_pipeline.common.months import add_months, month_label
from sop_pipeline.config.problem import Problem, merge_params, problem_from_settings
from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply.safety_stock import safety_stock
from sop_pipeline.supply.work_centres import resource_limits


def working_days(month: date) -> int:
    """Weekdays (Monday to Friday) in the month starting at `month`: the period's working days."""
    start = month.replace(day=1)
    return int(np.busday_count(start, add_months(start, 1)))


def horizon(demand_plan: pl.DataFrame) -> list[date]:
    if demand_plan.is_empty():
        raise InputDataError("The demand plan has no rows, so there is nothing to plan", where="draft.demand_plan",
                             fix="Check the forecast and demand-plan stages of this cycle")
    return sorted(demand_plan["month"].unique().to_list())


def family_demand(demand_plan: pl.DataFrame) -> pl.DataFrame:
    """Planned units and revenue per family and month, every horizon month present (0 where absent)."""
    months = pl.DataFrame({"month": horizon(demand_plan)})
    families = demand_plan.select("family").unique()
    grid = families.join(months, how="cross")
    # Without prices (no revenue in the sales history) revenue stays null, not 0: a margin of minus the cost
    # would be a figure nobody has.
    priced = "planned_revenue" in demand_plan.columns and demand_plan["planned_revenue"].count() > 0
    sums = demand_plan.group_by(["family", "month"]).agg(
        pl.col("planned_units").fill_null(0).sum().alias("planned_units"),
        pl.col("planned_revenue").fill_null(0).sum().alias("planned_revenue")
        if priced else pl.lit(None, pl.Float64).alias("planned_revenue"),
    )
    return (grid.join(sums, on=["family", "month"], how="left")
            .with_columns(pl.col("planned_units").fill_null(0.0),
                          pl.col("planned_revenue").fill_null(0.0) if priced else pl.col("planned_revenue"))
            .sort(["family", "month"]))


def family_problems(demand_plan: pl.DataFrame, planning: PlanningSettings,
                    safety_stocks: pl.DataFrame | None = None) -> dict[str, Problem]:
    """One aggregate-planning problem per family of the demand plan, in family order.

    Periods are the demand plan's months (name YYYY-MM, demand = the family's planned units,
    working_days = weekdays of the month, safety_stock = the family's safety stock that month, 0
    where none). Parameters: `planning.defaults` with `planning.families[F]` on top; errors name
    the key the planner wrote. A family configured in `planning.families` but absent from the
    demand plan is a SettingsError (a typo would otherwise silently plan it with the defaults).
    """
    demand = family_demand(demand_plan)
    families = sorted(demand["family"].unique().to_list())
    unknown = sorted(set(planning.families) - set(families))
    if unknown:
        raise SettingsError(
            f"planning.families configures {', '.join(map(repr, unknown))}, which the demand plan does not have "
            f"(its families: {', '.join(families)})",
            where="planning.families." + unknown[0],
            fix="Correct the family name (names are case-sensitive) or remove its section")
    ss = {}
    if safety_stocks is not None and not safety_stocks.is_empty():
        fam_ss = safety_stocks.filter(pl.col("level") == "family")
        ss = {(f, m): v for f, m, v in fam_ss.select("family", "month", "safety_stock").iter_rows()}
    problems = {}
    for family, rows in demand.group_by("family", maintain_order=True):
        name = family[0]
        periods = [{"name": month_label(m), "demand": float(d), "working_days": working_days(m),
                    "safety_stock": float(ss.get((name, m)) or 0.0)}
                   for m, d in rows.select("month", "planned_units").iter_rows()]
        overrides = planning.families.get(name)
        params = merge_params(planning.defaults, overrides)
        problems[name] = problem_from_settings(params, periods, family=name, overrides=overrides)
    return dict(sorted(problems.items()))


def work_centres(planning: PlanningSettings, problems: dict[str, Problem]):
    """`planning.resources` as model arrays for these families (None without work centres)."""
    if not planning.resources or not problems:
        return None
    return resource_limits(planning.resources, list(problems), next(iter(problems.values())).period_names)


def planning_inputs(demand_plan: pl.DataFrame, forecast: pl.DataFrame, accuracy: pl.DataFrame | None,
                    planning: PlanningSettings, interval_width: float) -> tuple[pl.DataFrame, dict[str, Problem]]:
    """The safety stocks and the family problems of a cycle (what every planning table starts from)."""
    stocks = safety_stock(forecast, accuracy, planning.service_level, interval_width)
    return stocks, family_problems(demand_plan, planning, stocks)
