"""The scenario comparison: horizon KPIs per scenario and family (and ALL FAMILIES), with changes against base.

KPIs (the columns of `sop.scenario_comparison`; `<kpi>_change` = scenario - base, same family):
- planned_units, planned_revenue, total_cost (cash, as in the production plan), gross_margin = revenue - cost;
- cost_with_safety_stock_penalty: cash plus the penalty for months below safety stock, what the optimal plan
  minimises (as in `strategy_comparison`). A tighter limit never lowers it; it can lower the cash cost alone,
  when the plan gives up safety stock (or delivers later) to save cash;
- units_short: the sum over months of ending backlog (unit-months late, as `strategy_comparison.units_short`);
- fill_rate: the share of planned units shipped in their own month. Late units of month t are
  min(planned_units_t, backlog_t): older orders are served first, so the backlog holds this month's first;
- average_inventory: the mean ending inventory over the horizon (ALL FAMILIES: of the families' sum);
- peak_headcount: the most workers in any month (ALL FAMILIES: of the families' sum);
- overtime_hours, subcontracted_units: horizon totals;
- peak_capacity_utilization: the largest monthly hours_used / hours available, where hours available are
  the family's paid regular hours, and for ALL FAMILIES `planning.shared_capacity` (or, without it, the
  paid regular hours of all families). Above 1 means overtime.
An infeasible scenario has one ALL FAMILIES row with its status and no figures.
"""

from __future__ import annotations

import polars as pl

from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.preflight import BASE_SCENARIO
from sop_pipeline.scenarios.plan import ScenarioOutcome, plan_frame
from sop_pipeline.supply.tables import ALL_FAMILIES, sum_or_null

KPIS = ["planned_units", "planned_revenue", "total_cost", "cost_with_safety_stock_penalty", "gross_margin",
        "units_short", "fill_rate",
        "average_inventory", "peak_headcount", "overtime_hours", "subcontracted_units", "peak_capacity_utilization"]
COMPARISON_COLUMNS = ["scenario", "family", "description", "status", *KPIS, *[f"{k}_change" for k in KPIS]]


def _kpis(rows: pl.DataFrame) -> pl.DataFrame:
    """KPIs per scenario and family from monthly rows with a `late` and a `capacity_hours` column."""
    planned = pl.col("planned_units").sum()
    # Sorted groups in a fixed order: float sums then add in the same order on every run (identical reruns).
    return rows.sort("scenario", "family", "month").group_by("scenario", "family", maintain_order=True).agg(
        planned.alias("planned_units"),
        sum_or_null("planned_revenue"),
        pl.col("total_cost").sum(),
        (pl.col("total_cost") + pl.col("safety_stock_penalty")).sum().alias("cost_with_safety_stock_penalty"),
        sum_or_null("gross_margin"),
        pl.col("backlog").sum().alias("units_short"),
        pl.when(planned > 0).then(1 - pl.col("late").sum() / planned).otherwise(1.0).alias("fill_rate"),
        pl.col("ending_inventory").mean().alias("average_inventory"),
        pl.col("workforce").max().alias("peak_headcount"),
        pl.col("overtime_hours").sum(),
        pl.col("subcontract_units").sum().alias("subcontracted_units"),
        (pl.col("hours_used") / pl.when(pl.col("capacity_hours") > 0).then(pl.col("capacity_hours")))
        .max().alias("peak_capacity_utilization"),
    )


def comparison_frame(outcomes: list[ScenarioOutcome]) -> pl.DataFrame:
    """COMPARISON_COLUMNS for the outcomes (one of them `base`), scenarios in the outcomes' order,
    families sorted with ALL FAMILIES last (no outcomes: no rows)."""
    if not outcomes:
        return pl.DataFrame(schema={c: pl.String if c in COMPARISON_COLUMNS[:4] else pl.Float64
                                    for c in COMPARISON_COLUMNS})
    rows = plan_frame(outcomes).with_columns(
        late=pl.min_horizontal("planned_units", "backlog"), capacity_hours=pl.col("regular_hours"))
    sums = ["planned_units", "planned_revenue", "total_cost", "safety_stock_penalty", "gross_margin", "backlog", "late",
            "ending_inventory", "workforce", "overtime_hours", "subcontract_units", "hours_used", "regular_hours"]
    total = (rows.sort("scenario", "month", "family").group_by("scenario", "month", maintain_order=True)
             .agg(pl.col([c for c in sums if c not in ("planned_revenue", "gross_margin")]).sum(),
                  sum_or_null("planned_revenue"), sum_or_null("gross_margin"), pl.col("shared_capacity").first())
             .with_columns(family=pl.lit(ALL_FAMILIES),
                           capacity_hours=pl.coalesce("shared_capacity", "regular_hours")))
    kpis = pl.concat([_kpis(rows), _kpis(total)], how="vertical_relaxed")
    infeasible = [o for o in outcomes if o.plan is None]
    if infeasible:
        kpis = pl.concat([kpis, pl.DataFrame({"scenario": [o.name for o in infeasible],
                                              "family": [ALL_FAMILIES] * len(infeasible)})], how="diagonal_relaxed")
    base = kpis.filter(pl.col("scenario") == BASE_SCENARIO).select(
        "family", *[pl.col(k).alias(f"{k}_base") for k in KPIS])
    info = pl.DataFrame({"scenario": [o.name for o in outcomes], "description": [o.description for o in outcomes],
                         "status": [o.status for o in outcomes], "order": list(range(len(outcomes)))})
    return (kpis.join(base, on="family", how="left").join(info, on="scenario", how="left")
            .with_columns([(pl.col(k) - pl.col(f"{k}_base")).alias(f"{k}_change") for k in KPIS])
            .sort("order", pl.col("family") == ALL_FAMILIES, "family")
            .select(COMPARISON_COLUMNS))


# ----------------------------------------------------------------------------------------------
# Checks (each returns the problems found, empty when the table holds)

def _first(frame: pl.DataFrame, limit: int = 3) -> str:
    return "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in frame.head(limit).iter_rows(named=True))


def balance_errors(scenario_plan: pl.DataFrame) -> list[str]:
    """Every scenario, family and month: beginning - beginning backlog + production - planned units = ending -
    backlog, and each month begins with the previous month's ending."""
    if scenario_plan.is_empty():
        return ["the scenario plan has no rows"]
    net = pl.col("ending_inventory") - pl.col("backlog")
    opening = pl.col("beginning_inventory") - pl.col("beginning_backlog")
    frame = scenario_plan.sort("scenario", "family", "month").with_columns(
        gap=opening + pl.col("production") - pl.col("planned_units") - net,
        carry=opening - net.shift(1).over("scenario", "family"))
    tol = TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col("planned_units").abs() + pl.col("production").abs())
    errors = []
    if (bad := frame.filter((pl.col("gap").abs() > tol) | pl.col("gap").is_null())).height:
        errors.append(f"{bad.height} scenario-family-months do not balance: "
                      + _first(bad.select("scenario", "family", "month", "gap")))
    if (bad := frame.filter(pl.col("carry").abs() > tol)).height:
        errors.append(f"{bad.height} scenario-family-months do not begin with the previous ending: "
                      + _first(bad.select("scenario", "family", "month", "carry")))
    return errors


# Base scenario column -> production plan column: the base scenario copies the published plan.
BASE_MATCHES = {"planned_units": "demand", "regular_units": "regular_units", "overtime_units": "overtime_units",
                "subcontract_units": "subcontract_units", "ending_inventory": "ending_inventory",
                "backlog": "backlog", "safety_stock": "safety_stock", "workforce": "workforce", "hires": "hires",
                "layoffs": "layoffs", "regular_hours": "regular_hours", "overtime_hours": "overtime_hours",
                "total_cost": "total_cost", "safety_stock_penalty": "safety_stock_penalty"}


def base_mismatch_errors(scenario_plan: pl.DataFrame, production_plan: pl.DataFrame, strategy: str) -> list[str]:
    """The base scenario equals the production plan of the chosen strategy, row for row (family, month)."""
    base = scenario_plan.filter(pl.col("scenario") == BASE_SCENARIO).select("family", "month", *BASE_MATCHES)
    plan = production_plan.filter(pl.col("strategy") == strategy).select(
        "family", "month", *[pl.col(p).alias(f"{s}_plan") for s, p in BASE_MATCHES.items()])
    if base.height != plan.height:
        return [f"the base scenario has {base.height} family-months, the {strategy} production plan {plan.height}"]
    joined = base.join(plan, on=["family", "month"], how="full", coalesce=True)
    errors = []
    for column in BASE_MATCHES:
        differ = pl.col(column).ne_missing(pl.col(f"{column}_plan"))
        if (bad := joined.filter(differ)).height:
            errors.append(f"{column} of the base scenario differs from the production plan in {bad.height} "
                          "family-months: " + _first(bad.select("family", "month", column, f"{column}_plan")))
    return errors
