"""SKU buffers with intermittent demand, computed by hand: a SKU keeps its safety stock on its shelf
between its sales, the family's safety stock counts it, and the split of the family's stock and
production to SKUs (earliest need first) leaves every SKU at or above its own safety stock, the last
month included, without inventing a unit.

Family F: SKU A sells 20 a month (safety stock 10); SKU B sells 10 in months 1 and 3 only (safety stock 5
in those months, none in months 2 and 4: its forecast there is zero, with no band)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply.problems import family_problems
from sop_pipeline.supply.safety_stock import safety_stock
from sop_pipeline.supply.sku_split import inventory_plan

MONTHS = [date(2027, m, 1) for m in (1, 2, 3, 4)]
DEMAND = {"A": [20.0, 20.0, 20.0, 20.0], "B": [10.0, 0.0, 10.0, 0.0]}
SKU_SS = {"A": [10.0, 10.0, 10.0, 10.0], "B": [5.0, 0.0, 5.0, 0.0]}
NET = pl.col("ending_inventory") - pl.col("backlog")


def _demand_plan() -> pl.DataFrame:
    return pl.DataFrame({"family": "F", "sku": [s for s in DEMAND for _ in MONTHS], "month": MONTHS * 2,
                         "planned_units": [u for s in DEMAND for u in DEMAND[s]]})


def _sku_stocks() -> pl.DataFrame:
    return pl.DataFrame({"level": "sku", "family": "F", "sku": [s for s in SKU_SS for _ in MONTHS],
                         "month": MONTHS * 2, "safety_stock": [v for s in SKU_SS for v in SKU_SS[s]]})


def _split(made: list[float], initial: float = 0.0) -> pl.DataFrame:
    demand_plan = _demand_plan()
    planning = PlanningSettings(defaults={"workforce": {"initial": 0}, "production": {"labor_hours_per_unit": 1},
                                          "inventory": {"initial": initial}})
    problems = family_problems(demand_plan, planning)
    family_demand = np.sum([DEMAND[s] for s in DEMAND], axis=0)
    ending = initial + np.cumsum(made) - np.cumsum(family_demand)
    production = pl.DataFrame({"family": "F", "strategy": "optimal", "month": MONTHS, "demand": family_demand,
                               "regular_units": made, "overtime_units": 0.0, "subcontract_units": 0.0,
                               "ending_inventory": ending, "backlog": 0.0})
    return inventory_plan(demand_plan, production, problems, _sku_stocks(), "optimal").sort("sku", "month")


def test_family_safety_stock_keeps_the_buffer_a_sku_holds_between_sales():
    """Family rows: the larger of the family's own forecast's buffer (zero here: no band) and the SKUs'
    held buffers: A 10 every month, B 5 from month 1 on (kept through months 2 and 4): 15 every month,
    where the sum of the SKUs' own monthly safety stocks is 15, 10, 15, 10."""
    sku_rows = pl.DataFrame({"level": "sku", "series_key": [s for s in DEMAND for _ in MONTHS],
                             "family": "F", "sku": [s for s in DEMAND for _ in MONTHS], "month": MONTHS * 2,
                             "yhat": [u for s in DEMAND for u in DEMAND[s]]})
    family_rows = pl.DataFrame({"level": "family", "series_key": "F", "family": "F", "sku": None, "month": MONTHS,
                                "yhat": np.sum([DEMAND[s] for s in DEMAND], axis=0)})
    forecast = pl.concat([sku_rows, family_rows.with_columns(pl.col("sku").cast(pl.String))]).with_columns(
        yhat_lower=pl.when(pl.col("level") == "sku").then(0.8 * pl.col("yhat")).otherwise(pl.col("yhat")),
        yhat_upper=pl.when(pl.col("level") == "sku").then(1.2 * pl.col("yhat")).otherwise(pl.col("yhat")))
    stocks = safety_stock(forecast, None, 0.95, 0.8)
    sku = {s: stocks.filter(pl.col("sku") == s).sort("month")["safety_stock"].to_numpy() for s in DEMAND}
    assert sku["B"][1] == 0 and sku["B"][3] == 0 and sku["B"][0] > 0  # B has a buffer only where it sells
    held_b = np.array([sku["B"][0], sku["B"][0], sku["B"][2], sku["B"][2]])
    family = stocks.filter(pl.col("level") == "family").sort("month")["safety_stock"].to_numpy()
    assert family == pytest.approx(sku["A"] + held_b)


def test_every_sku_keeps_its_safety_stock_when_the_family_keeps_the_held_buffers():
    """The family plan ends every month at 15 (the held buffers): production 45, 20, 30, 20. By hand:
    month 1 gives A 30 and B 15 (their demand + safety stock); month 2 all 20 to A (B still holds 5);
    month 3 A 20, B 10; month 4 all 20 to A. Every SKU ends every month at or above its own safety stock:
    A at 10, B at 5 (its buffer kept through months 2 and 4)."""
    inventory = _split([45.0, 20.0, 30.0, 20.0])
    a, b = (inventory.filter(pl.col("sku") == s) for s in "AB")
    assert a["production"].to_list() == pytest.approx([30.0, 20.0, 20.0, 20.0])
    assert b["production"].to_list() == pytest.approx([15.0, 0.0, 10.0, 0.0])
    assert a.select(NET).to_series().to_list() == pytest.approx([10.0] * 4)
    assert b.select(NET).to_series().to_list() == pytest.approx([5.0] * 4)


def test_stock_built_ahead_waits_on_the_sku_that_sells_next():
    """Month 1 makes 55: the 45 both SKUs need in month 1, then month 2's need (A's 20: B needs nothing
    in month 2) is not covered by the 10 left, which all go to A. Month 4's 20 then all go to A again:
    B (no sale after month 3) is given nothing it would keep. By hand: A 40, 10, 20, 20; B 15, 0, 10, 0."""
    inventory = _split([55.0, 10.0, 30.0, 20.0])
    a, b = (inventory.filter(pl.col("sku") == s) for s in "AB")
    assert a["production"].to_list() == pytest.approx([40.0, 10.0, 20.0, 20.0])
    assert b["production"].to_list() == pytest.approx([15.0, 0.0, 10.0, 0.0])
    assert a.select(NET).to_series().to_list()[-1] == pytest.approx(10.0)


def test_initial_stock_goes_where_it_is_needed_first():
    """100 units on hand, nothing made: month 1 needs A 30, B 15 (45); through month 2, A 50 and B 15
    (65); through month 3, A 70 and B 25 (95); through month 4 A 90, B 25 (115 > 100): the last 5 go
    to A (month 4's step: A 20, B 0). A starts with 75, B with 25; the sums are the family's."""
    inventory = _split([0.0, 0.0, 0.0, 0.0], initial=100.0)
    first = inventory.filter(pl.col("month") == MONTHS[0]).sort("sku")
    assert first["beginning_inventory"].to_list() == pytest.approx([75.0, 25.0])
    assert float(first["beginning_inventory"].sum()) == pytest.approx(100.0)
    family_net = inventory.group_by("month").agg(NET.sum()).sort("month")["ending_inventory"].to_list()
    assert family_net == pytest.approx([100 - 30, 100 - 50, 100 - 80, 100 - 100])
    assert (inventory["production"] >= 0).all()
