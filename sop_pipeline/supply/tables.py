"""The strategies' plans as the tables a planner reads: `production_plan` and `strategy_comparison`,
the console's totals line, and the all-families label the other tables share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from sop_pipeline.supply.result import COST_COLUMNS, STRATEGIES, PlanResult

if TYPE_CHECKING:
    from sop_pipeline.supply.solve import SupplyPlans

ALL_FAMILIES = "ALL FAMILIES"

PRODUCTION_COLUMNS = [
    "family", "strategy", "month", "demand", "working_days", "workforce", "hires", "layoffs",
    "regular_units", "overtime_units", "overtime_hours", "subcontract_units", "ending_inventory", "backlog",
    "safety_stock", "safety_stock_shortfall", "regular_hours", "idle_hours", *COST_COLUMNS, "total_cost",
    "safety_stock_penalty",
]
COMPARISON_COLUMNS = ["family", "strategy", "total_cost", *COST_COLUMNS, "safety_stock_penalty",
                      "cost_with_safety_stock_penalty", "units_short", "solver_status", "chosen",
                      "minimises", "solver_objective", "mip_gap", "starting_workforce", "ending_workforce"]
# What each strategy's plan is chosen by (sop.strategy_comparison.minimises): level and chase follow a rule.
MINIMISES = {"level": "rule: one workforce for the horizon", "chase": "rule: each month's workforce meets its demand",
             "optimal": "cost_with_safety_stock_penalty"}


def sum_or_null(column: str) -> pl.Expr:
    """The column's sum, null (not 0) where every value is null (a margin without revenue)."""
    return pl.when(pl.col(column).count() > 0).then(pl.col(column).sum()).alias(column)


def chosen_rows(production_plan: pl.DataFrame, strategy: str | None) -> pl.DataFrame:
    rows = production_plan if strategy is None else production_plan.filter(pl.col("strategy") == strategy)
    return rows.sort(["family", "month"])


def production_plan_frame(results: dict[str, dict[str, PlanResult]]) -> pl.DataFrame:
    """PRODUCTION_COLUMNS, one row per family, strategy and month, for every plan there is."""
    frames = []
    for strategy, by_family in results.items():
        for family, result in by_family.items():
            frame = pl.from_pandas(result.periods)
            frames.append(frame.with_columns(
                family=pl.lit(family), strategy=pl.lit(strategy),
                month=pl.col("period").str.to_date("%Y-%m"),
            ).select(PRODUCTION_COLUMNS))
    if not frames:
        return pl.DataFrame(schema={c: (pl.String if c in ("family", "strategy") else pl.Date if c == "month"
                                        else pl.Float64) for c in PRODUCTION_COLUMNS})
    return pl.concat(frames).with_columns(pl.col(PRODUCTION_COLUMNS[3:]).cast(pl.Float64)).sort(
        ["family", "strategy", "month"])


def strategy_comparison_frame(plans: SupplyPlans) -> pl.DataFrame:
    """COMPARISON_COLUMNS, one row per family and strategy, impossible strategies included."""
    rows = []
    for strategy in STRATEGIES:
        for family, result in plans.results.get(strategy, {}).items():
            workforce = result.periods["workforce"]
            rows.append({"family": family, "strategy": strategy, "total_cost": result.total_cost,
                         **result.cost_breakdown, "safety_stock_penalty": result.safety_stock_penalty,
                         "units_short": result.units_short, "solver_status": result.status,
                         "minimises": MINIMISES[strategy],
                         "solver_objective": result.solver.get("objective") if strategy == "optimal" else None,
                         "mip_gap": result.solver.get("mip_gap") if strategy == "optimal" else None,
                         "starting_workforce": plans.starting_workforce.get(family),
                         "ending_workforce": float(workforce.iloc[-1])})
        for family, reason in plans.infeasible.get(strategy, {}).items():
            rows.append({"family": family, "strategy": strategy, "solver_status": f"infeasible: {reason}",
                         "minimises": MINIMISES[strategy], "starting_workforce": plans.starting_workforce.get(family)})
    schema = {c: pl.Float64 for c in COMPARISON_COLUMNS}
    schema.update(family=pl.String, strategy=pl.String, solver_status=pl.String, chosen=pl.Boolean,
                  minimises=pl.String)
    derived = ("chosen", "cost_with_safety_stock_penalty")
    frame = pl.DataFrame(rows, schema={k: v for k, v in schema.items() if k not in derived})
    # total_cost is cash; the optimal plan minimises cash plus the penalty for months below safety stock,
    # so this is the column on which optimal is never dearer than level or chase.
    return (frame.with_columns(chosen=pl.col("strategy") == plans.chosen_strategy,
                               cost_with_safety_stock_penalty=pl.col("total_cost") + pl.col("safety_stock_penalty"))
            .select(COMPARISON_COLUMNS).sort(["family", "strategy"]))


def strategy_totals_line(comparison: pl.DataFrame) -> str:
    """The console's one line: each strategy's cash + penalty over the families it has a plan for, how many
    of them that is, and why the others have none (an impossible strategy is never a 0 cost)."""
    n = comparison["family"].n_unique()
    parts = []
    for strategy in STRATEGIES:
        rows = comparison.filter(pl.col("strategy") == strategy)
        planned = rows.filter(pl.col("total_cost").is_not_null())
        if planned.is_empty():
            reason = rows["solver_status"].drop_nulls().head(1).to_list()
            parts.append(f"{strategy} impossible for all {n} families"
                         + (f" ({reason[0].removeprefix('infeasible: ')})" if reason else ""))
            continue
        total = planned["cost_with_safety_stock_penalty"].sum()
        parts.append(f"{strategy} {total:,.0f}" + ("" if planned.height == n else
                                                   f" ({planned.height} of {n} families; impossible for "
                                                   + ", ".join(sorted(set(rows["family"]) - set(planned["family"])))
                                                   + ")"))
    return "Total cash + safety-stock penalty by strategy: " + "; ".join(parts)


def cost_comparison(comparison: pl.DataFrame) -> pl.DataFrame:
    """Total cost per family (rows) and strategy (columns), for a planner's side-by-side view."""
    return (comparison.pivot(on="strategy", index="family", values="total_cost")
            .select(["family", *[s for s in STRATEGIES if s in comparison["strategy"].unique().to_list()]])
            .sort("family"))
