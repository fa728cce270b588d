"""Plans on real sales: the demo's history and Superstore's (shared data), with the settings a planner has
(the demo's own; for Superstore those `init` writes, as a new user runs it). For every family: level, chase
and optimal are planned, optimal cash + safety-stock penalty is no more than level's or chase's, and the
solver's objective equals the plan's reported cost (cash + penalty recomputed from net stock) to 1e-6
relative, family by family and for the families solved together.

The demand plan is the seasonal-naive forecast of each SKU (its units in the same month a year before), the
forecast band +-20% around it: real demand shapes, without the minutes of Prophet fits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from sop_pipeline.common.months import add_months
from sop_pipeline.config.loading import DEMO_SETTINGS, load_settings
from sop_pipeline.supply.invariants import inventory_plan_errors, objective_errors
from sop_pipeline.supply.problems import planning_inputs
from sop_pipeline.supply.sku_split import inventory_plan
from sop_pipeline.supply.solve import solve_strategies
from sop_pipeline.supply.strategies import plan
from tests.support.files import shared_file

pytestmark = pytest.mark.slow
DEMO_SALES = Path(__file__).resolve().parents[2] / "assets" / "demo" / "sales_history.csv"


def _seasonal_naive_inputs(sales: pl.DataFrame, n_months: int = 18) -> tuple[pl.DataFrame, pl.DataFrame]:
    """sales: date (Date), family, sku, units. The demand plan and a forecast of the n_months after the last."""
    monthly = (sales.with_columns(month=pl.col("date").dt.truncate("1mo"))
               .group_by("family", "sku", "month").agg(pl.col("units").sum().cast(pl.Float64)))
    last = monthly["month"].max()
    skus = monthly.select("family", "sku").unique()
    rows = []
    for h in range(1, n_months + 1):
        month = add_months(last, h)
        source = add_months(month, -12 * ((h - 1) // 12 + 1))  # the same calendar month, within the history
        got = monthly.filter(pl.col("month") == source).select("family", "sku", "units")
        rows.append(skus.join(got, on=["family", "sku"], how="left")
                    .with_columns(month=pl.lit(month), planned_units=pl.col("units").fill_null(0.0)).drop("units"))
    demand_plan = pl.concat(rows).with_columns(planned_revenue=pl.lit(None, pl.Float64))
    band = lambda frame, level, key: frame.with_columns(  # noqa: E731
        level=pl.lit(level), series_key=pl.col(key), method=pl.lit("seasonal_naive"), yhat=pl.col("planned_units"),
        yhat_lower=0.8 * pl.col("planned_units"), yhat_upper=1.2 * pl.col("planned_units"))
    sku_rows = band(demand_plan, "sku", "sku")
    family_rows = band(demand_plan.group_by("family", "month").agg(pl.col("planned_units").sum())
                       .with_columns(sku=pl.lit(None, pl.String)), "family", "family")
    cols = ["level", "series_key", "family", "sku", "month", "method", "yhat", "yhat_lower", "yhat_upper"]
    return demand_plan, pl.concat([sku_rows.select(cols), family_rows.select(cols)])


def _check_every_family(sales: pl.DataFrame, planning) -> None:
    demand_plan, forecast = _seasonal_naive_inputs(sales)
    stocks, problems = planning_inputs(demand_plan, forecast, None, planning, 0.8)
    plans = solve_strategies(problems, planning)
    _check_sku_buffers(demand_plan, plans, problems, stocks, planning.strategy)
    comparison = plans.strategy_comparison
    assert objective_errors(comparison) == []  # the families as solved together
    wide = comparison.pivot(on="strategy", index="family", values="cost_with_safety_stock_penalty")
    assert wide.height == len(problems)
    assert wide["level"].null_count() == 0 and wide["chase"].null_count() == 0, comparison.filter(
        pl.col("total_cost").is_null()).select("family", "strategy", "solver_status")
    slack = 1 + planning.solver.mip_gap + 1e-6  # whole workers: solved to the MIP gap
    for row in wide.iter_rows(named=True):
        assert row["optimal"] <= min(row["level"], row["chase"]) * slack, row
    for name, problem in problems.items():  # each family alone: objective = reported cost
        alone = plan(problem, "optimal")
        reported = alone.total_cost + alone.safety_stock_penalty
        assert alone.solver["objective"] == pytest.approx(reported, rel=1e-6), name


def _check_sku_buffers(demand_plan, plans, problems, stocks, strategy) -> None:
    """The chosen plan split to SKUs: the sums are the family's, and in every month where the family's net
    stock covers the buffers its SKUs hold (its safety stock: `safety_stock.held_buffers`, at least the sum
    of the SKUs' safety stocks), no SKU ends below its own safety stock (the last month included)."""
    inventory = inventory_plan(demand_plan, plans.production_plan, problems, stocks, strategy)
    assert inventory_plan_errors(inventory, plans.production_plan, strategy) == []
    assert inventory["production"].min() >= 0
    net = pl.col("ending_inventory") - pl.col("backlog")
    family_buffer = stocks.filter(pl.col("level") == "family").select("family", "month", buffer="safety_stock")
    covered = (inventory.group_by("family", "month").agg(net.sum().alias("family_net"))
               .join(family_buffer, on=["family", "month"])
               .filter(pl.col("family_net") >= pl.col("buffer") * (1 - 1e-9) - 1e-6))
    assert covered.height > 0
    inside = inventory.join(covered.select("family", "month"), on=["family", "month"])
    below = inside.filter(net < pl.col("safety_stock") - 1e-6 * pl.max_horizontal(pl.lit(1.0), "safety_stock"))
    assert below.is_empty(), below.select("family", "sku", "month", "ending_inventory", "backlog", "safety_stock")


def test_demo_history_every_family():
    sales = pl.read_csv(DEMO_SALES, try_parse_dates=True).select("date", "family", "sku", "units")
    _check_every_family(sales, load_settings(DEMO_SETTINGS).planning)


def test_superstore_with_init_settings_every_family(tmp_path):
    path = shared_file("superstore_orders.csv")
    out = tmp_path / "sop.yaml"
    subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "init", "--sales", str(path), "--out", str(out)],
                   check=True, capture_output=True, text=True)
    settings = load_settings(out)
    sales = (pl.read_csv(path, infer_schema_length=0)
             .select(date=pl.col("Order Date").str.to_date("%m/%d/%Y"), family=pl.col("Sub-Category"),
                     sku=pl.col("Product ID"), units=pl.col("Quantity").cast(pl.Float64)))
    _check_every_family(sales, settings.planning)
