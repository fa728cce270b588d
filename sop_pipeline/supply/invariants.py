"""Checks of the published supply tables (each returns the problems found, empty when the table holds).

Used by the Dagster asset checks, the meeting's adopt step, the scenarios and the tests."""

from __future__ import annotations

import polars as pl

from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.problem import Problem
from sop_pipeline.supply.operating_plan import LABOR_COST_COLUMNS
from sop_pipeline.supply.result import COST_COLUMNS
from sop_pipeline.supply.tables import ALL_FAMILIES, chosen_rows

_CENT = 0.005             # "to the cent": differences under half a cent


def _first(frame: pl.DataFrame, limit: int = 3) -> str:
    return "; ".join(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                     for row in frame.head(limit).iter_rows(named=True))


def production_balance_errors(production_plan: pl.DataFrame, problems: dict[str, Problem]) -> list[str]:
    """Inventory balance in every family, strategy and month of the production plan:
    (ending - backlog)_t = (ending - backlog)_{t-1} + regular + overtime + subcontract - demand_t."""
    if production_plan.is_empty():
        return ["the production plan has no rows"]
    initial = pl.DataFrame({"family": list(problems),
                            "initial_net": [p.inventory.initial - p.inventory.initial_backlog for p in problems.values()]})
    net = pl.col("ending_inventory") - pl.col("backlog")
    frame = (production_plan.sort(["family", "strategy", "month"]).join(initial, on="family", how="left")
             .with_columns(net=net)
             .with_columns(previous=pl.col("net").shift(1).over(["family", "strategy"]))
             .with_columns(previous=pl.coalesce("previous", "initial_net"))
             .with_columns(gap=pl.col("previous") + pl.col("regular_units") + pl.col("overtime_units")
                           + pl.col("subcontract_units") - pl.col("demand") - pl.col("net")))
    bad = frame.filter((pl.col("gap").abs() > TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col("demand").abs()))
                       | pl.col("gap").is_null())
    return [f"{bad.height} family-strategy-months do not balance: "
            + _first(bad.select("family", "strategy", "month", "gap"))] if bad.height else []


def limit_errors(production_plan: pl.DataFrame, problems: dict[str, Problem],
                 shared_capacity: float | None) -> list[str]:
    """Overtime per worker, workforce bounds, subcontract limit and shared plant hours in every plan."""
    limits = pl.DataFrame({
        "family": list(problems),
        "ot_max": [p.production.max_overtime_hours_per_worker for p in problems.values()],
        "w_min": [p.workforce.min for p in problems.values()],
        "w_max": [p.workforce.max for p in problems.values()],
        "sub_max": [p.production.max_subcontract_units for p in problems.values()],
    }, schema={"family": pl.String, "ot_max": pl.Float64, "w_min": pl.Float64, "w_max": pl.Float64,
               "sub_max": pl.Float64})
    frame = production_plan.join(limits, on="family", how="left")
    slack = TOLERANCE * 100
    tests = {
        "overtime above max_overtime_hours_per_worker x workforce":
            pl.col("overtime_hours") > pl.col("ot_max") * pl.col("workforce") + slack,
        "workforce below workforce.min": pl.col("workforce") < pl.col("w_min") - slack,
        "workforce above workforce.max": pl.col("workforce") > pl.col("w_max") + slack,
        "subcontracting above max_subcontract_units": pl.col("subcontract_units") > pl.col("sub_max") + slack,
        "negative quantities": pl.min_horizontal("workforce", "regular_units", "overtime_units", "subcontract_units",
                                                 "ending_inventory", "backlog", "idle_hours") < -slack,
    }
    errors = []
    for what, condition in tests.items():
        bad = frame.filter(condition.fill_null(False))
        if bad.height:
            errors.append(f"{what} in {bad.height} rows: " + _first(bad.select("family", "strategy", "month")))
    if shared_capacity is not None and not production_plan.is_empty():
        used = (production_plan.group_by(["strategy", "month"])
                .agg((pl.col("regular_hours") - pl.col("idle_hours") + pl.col("overtime_hours")).sum().alias("hours"))
                .filter(pl.col("hours") > shared_capacity * (1 + TOLERANCE) + slack).sort(["strategy", "month"]))
        if used.height:
            errors.append(f"plant hours above planning.shared_capacity ({shared_capacity:,g}) in {used.height} "
                          "strategy-months: " + _first(used))
    return errors


def inventory_plan_errors(inventory: pl.DataFrame, production_plan: pl.DataFrame,
                          strategy: str | None = None) -> list[str]:
    """Per SKU: balance every month and beginning = previous ending; per family: SKUs sum to the plan."""
    if inventory.is_empty():
        return ["the inventory plan has no rows"]
    errors = []
    inv = inventory.sort(["family", "sku", "month"]).with_columns(
        gap=pl.col("beginning_inventory") - pl.col("beginning_backlog") + pl.col("production") - pl.col("demand")
        - (pl.col("ending_inventory") - pl.col("backlog")),
        carry=(pl.col("beginning_inventory") - pl.col("beginning_backlog"))
        - (pl.col("ending_inventory") - pl.col("backlog")).shift(1).over(["family", "sku"]),
    )
    tol = TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col("demand").abs() + pl.col("production").abs())
    if (bad := inv.filter(pl.col("gap").abs() > tol)).height:
        errors.append(f"{bad.height} SKU-months do not balance: " + _first(bad.select("family", "sku", "month", "gap")))
    if (bad := inv.filter(pl.col("carry").abs() > tol)).height:
        errors.append(f"{bad.height} SKU-months do not begin with the previous ending: "
                      + _first(bad.select("family", "sku", "month", "carry")))
    sums = inventory.group_by(["family", "month"]).agg(
        pl.col("production").sum(), pl.col("demand").sum(),
        (pl.col("ending_inventory") - pl.col("backlog")).sum().alias("net"))
    family = chosen_rows(production_plan, strategy).select(
        "family", "month", (pl.col("regular_units") + pl.col("overtime_units") + pl.col("subcontract_units"))
        .alias("plan_production"), pl.col("demand").alias("plan_demand"),
        (pl.col("ending_inventory") - pl.col("backlog")).alias("plan_net"))
    joined = family.join(sums, on=["family", "month"], how="full", coalesce=True)
    for column in ("production", "demand", "net"):
        diff = (pl.col(column) - pl.col(f"plan_{column}")).abs()
        bad = joined.filter(diff.is_null() | (diff > TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col(f"plan_{column}").abs())))
        if bad.height:
            errors.append(f"SKU {column} does not add up to the family plan in {bad.height} family-months: "
                          + _first(bad.select("family", "month", column, f"plan_{column}")))
    return errors


def objective_errors(comparison: pl.DataFrame) -> list[str]:
    """The optimal model's objective equals the reported cost of its plans, cash + safety-stock penalty
    recomputed from net stock, to TOLERANCE relative (the optimal plan is the optimum of what is reported).
    Every optimal row carries the objective of all its families together, so it is compared with their sum."""
    rows = comparison.filter((pl.col("strategy") == "optimal") & pl.col("solver_objective").is_not_null())
    if rows.is_empty():
        return []
    objective = float(rows["solver_objective"][0])
    reported = float(rows["cost_with_safety_stock_penalty"].sum())
    if abs(objective - reported) > TOLERANCE * max(1.0, abs(reported)):
        return [f"the optimal model's objective {objective:,.2f} differs from the reported cash + safety-stock "
                f"penalty of its plans {reported:,.2f} (by {objective - reported:+,.2f})"]
    return []


def operating_money_errors(operating: pl.DataFrame, production_plan: pl.DataFrame,
                           strategy: str | None = None) -> list[str]:
    """Every cost column of the operating plan equals the chosen production plan's, to the cent, per
    family and month and in the all-families total."""
    chosen = chosen_rows(production_plan, strategy)
    costs = [*COST_COLUMNS, "total_cost"]
    errors = []
    per_family = operating.filter(pl.col("family") != ALL_FAMILIES).join(
        chosen.select("family", "month", *costs), on=["family", "month"], how="full", suffix="_plan", coalesce=True)
    totals = operating.filter(pl.col("family") == ALL_FAMILIES).join(
        chosen.group_by("month").agg(pl.col(costs).sum()), on="month", how="full", suffix="_plan", coalesce=True)
    for label, frame in (("family", per_family), (ALL_FAMILIES, totals)):
        for column in costs:
            diff = (pl.col(column) - pl.col(f"{column}_plan")).abs()
            bad = frame.filter(diff.is_null() | (diff >= _CENT))
            if bad.height:
                errors.append(f"{column} ({label} rows) differs from the production plan in {bad.height} months: "
                              + _first(bad.select("month", column, f"{column}_plan")))
    labor = operating.filter((pl.col("labor_cost") - pl.sum_horizontal(LABOR_COST_COLUMNS)).abs() >= _CENT)
    if labor.height:
        errors.append(f"labor_cost is not the sum of its parts in {labor.height} rows")
    return errors
