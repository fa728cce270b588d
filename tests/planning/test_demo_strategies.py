"""The demo's planning settings: level, chase and optimal planned for every family; optimal is the cheapest on
cash + safety-stock penalty, and the solver's objective equals the reported cost (demand built, not forecast)."""

from __future__ import annotations

import polars as pl
import pytest

from sop_pipeline.config.loading import DEMO_SETTINGS, load_settings
from sop_pipeline.supply.invariants import objective_errors
from sop_pipeline.supply.problems import planning_inputs
from sop_pipeline.supply.solve import solve_strategies
from tests.support.planning_cases import DEMO_FAMILIES, seasonal_inputs


def test_demo_plans_all_three_strategies_and_optimal_is_the_optimum():
    from datetime import date

    demand_plan, forecast = seasonal_inputs(DEMO_FAMILIES, n_months=18, start=date(2026, 11, 1))
    planning = load_settings(DEMO_SETTINGS).planning
    stocks, problems = planning_inputs(demand_plan, forecast, None, planning, 0.8)
    plans = solve_strategies(problems, planning)
    comparison = plans.strategy_comparison
    assert comparison["total_cost"].null_count() == 0, comparison.filter(pl.col("total_cost").is_null())
    wide = comparison.pivot(on="strategy", index="family", values="cost_with_safety_stock_penalty")
    assert wide.height == len(DEMO_FAMILIES)
    # the whole-worker model stops within planning.solver.mip_gap of the optimum
    slack = 1 + planning.solver.mip_gap
    assert (wide["optimal"] <= wide["level"] * slack).all() and (wide["optimal"] <= wide["chase"] * slack).all()
    optimal = comparison.filter(pl.col("strategy") == "optimal")
    assert optimal["solver_objective"][0] == pytest.approx(optimal["cost_with_safety_stock_penalty"].sum(), rel=1e-6)
    assert objective_errors(comparison) == []
