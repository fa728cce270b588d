"""The chosen family plans split to SKUs: the inventory plan (`sop.inventory_plan`)."""

from __future__ import annotations

import numpy as np
import polars as pl

from sop_pipeline.common.errors import PlanningError
from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.problem import Problem
from sop_pipeline.supply.problems import horizon
from sop_pipeline.supply.result import clean_solver_noise
from sop_pipeline.supply.tables import chosen_rows

COVER_MONTHS = 3          # months_of_supply: ending inventory / average demand of the next 3 months
INITIAL_SPLIT_MONTHS = 3  # initial family stock goes to SKUs by their share of the first 3 months' demand

INVENTORY_COLUMNS = ["family", "sku", "month", "beginning_inventory", "beginning_backlog", "production", "demand",
                     "ending_inventory", "backlog", "safety_stock", "months_of_supply"]


def _shares(weights: np.ndarray) -> np.ndarray:
    """Weights as shares summing to one (equal shares where every weight is zero)."""
    total = weights.sum()
    return weights / total if total > 0 else np.full(len(weights), 1.0 / len(weights))


def _requirements(net: np.ndarray, demand: np.ndarray, ss: np.ndarray) -> np.ndarray:
    """(SKUs, months left): the units each SKU needs on top of its net stock `net` to meet its demand and
    hold its safety stock through each month from now on, without later supply; non-decreasing."""
    through = np.maximum.accumulate(np.cumsum(demand, axis=1) + ss, axis=1)
    return np.maximum(through - net.reshape(-1, 1), 0.0)


def _allocate(units: float, net: np.ndarray, demand: np.ndarray, ss: np.ndarray) -> np.ndarray:
    """`units` of the family (>= 0) shared by its SKUs, earliest need first (a fair-share DRP).

    `demand`, `ss` (SKUs, months from now to the horizon's end). Each SKU first gets what it needs to meet
    this month's demand and safety stock; what is left covers the following months' needs in their order;
    in the first month whose needs the units do not cover, the rest is shared in proportion to those
    needs. Units beyond every need to the horizon's end follow the SKUs' demand. So a SKU never gets stock
    that waits for later months while another SKU runs short sooner, and the shares add up to `units`."""
    need = _requirements(net, demand, ss)
    total = need.sum(axis=0)
    short = np.flatnonzero(total > units + TOLERANCE)
    if short.size == 0:  # every need to the horizon's end met: the rest by demand
        return need[:, -1] + (units - total[-1]) * _shares(demand.sum(axis=1))
    k = short[0]
    covered = need[:, k - 1] if k > 0 else np.zeros(len(net))
    step = need[:, k] - covered
    return covered + (units - covered.sum()) * _shares(step)


def inventory_plan(demand_plan: pl.DataFrame, production_plan: pl.DataFrame, problems: dict[str, Problem],
                   safety_stocks: pl.DataFrame | None = None, strategy: str | None = None) -> pl.DataFrame:
    """The chosen family plans split to SKUs: INVENTORY_COLUMNS per family, SKU and month.

    - Initial family inventory and each month's production (regular + overtime + subcontracted) go to
      SKUs earliest need first (`_allocate`): every SKU first gets what it needs to meet the month's
      demand and hold its safety stock, max(0, demand + safety stock - net beginning inventory) (net:
      less the backlog carried in); the rest covers the next months' needs in their order, shared in
      proportion to the needs of the first month it does not cover. Stock built ahead so waits on
      the SKUs that sell next, not on SKUs that do not sell again. An initial backlog is owed by the
      SKUs by their share of the first INITIAL_SPLIT_MONTHS months' demand.
    - So when the family's stock covers the needs of all its SKUs in a month, each SKU holds its own
      safety stock: a SKU ends below its own only when the family ends below the sum of its SKUs'
      buffers plus the stock some SKUs hold beyond their own needs (a buffer kept after a SKU's last
      sale: the family's safety stock keeps those, `safety_stock`).
    - Per SKU and month: beginning_inventory - beginning_backlog + production - demand
      = ending_inventory - backlog, and beginning = the previous month's ending.
    - Production, demand and net stock (ending - backlog) of the SKUs add up to the family plan.
      Ending inventory and backlog add up too unless one SKU runs short while another holds more
      than it needs (stock of one SKU cannot fill another's orders: the SKU rows say so).
    - months_of_supply = ending inventory / average demand of the next COVER_MONTHS months (null
      in the last month or when no demand follows).
    `production_plan`: PRODUCTION_COLUMNS rows; `strategy` selects the chosen one (None: all rows
    are the chosen plan). `safety_stocks`: the `safety_stock` frame (SKU rows are used).
    """
    chosen = chosen_rows(production_plan, strategy)
    months = horizon(demand_plan)
    sku_ss = {}
    if safety_stocks is not None and not safety_stocks.is_empty():
        sku_rows = safety_stocks.filter(pl.col("level") == "sku")
        sku_ss = {(s, m): v for s, m, v in sku_rows.select("sku", "month", "safety_stock").iter_rows()}
    sku_demand = demand_plan.group_by(["family", "sku", "month"]).agg(pl.col("planned_units").fill_null(0).sum())
    frames = []
    for (family,), rows in sku_demand.group_by("family", maintain_order=True):
        if family not in problems:
            raise PlanningError(f"The demand plan has family {family} but there is no production plan for it",
                                where=f"family {family}", fix="Rerun the production-plan stage")
        plan_rows = chosen.filter(pl.col("family") == family)
        if plan_rows.height != len(months):
            raise PlanningError(f"The production plan of family {family} has {plan_rows.height} months, "
                                f"the demand plan {len(months)}", where=f"family {family}",
                                fix="Rerun the production-plan stage")
        skus = sorted(rows["sku"].unique().to_list())
        index = {(s, m): u for s, m, u in rows.select("sku", "month", "planned_units").iter_rows()}
        demand = np.array([[index.get((s, m), 0.0) for m in months] for s in skus], dtype=float)
        ss = np.array([[float(sku_ss.get((s, m)) or 0.0) for m in months] for s in skus], dtype=float)
        production = (plan_rows["regular_units"] + plan_rows["overtime_units"] + plan_rows["subcontract_units"]
                      ).to_numpy()
        inv = problems[family].inventory
        initial = inv.initial - inv.initial_backlog
        if initial >= 0:  # stock on hand goes where it is needed first, as production does
            net = _allocate(initial, np.zeros(len(skus)), demand, ss)
        else:  # a backlog carried in: owed by the SKUs that sell first
            near = demand[:, :INITIAL_SPLIT_MONTHS].sum(axis=1)
            net = _shares(near if near.any() else demand.sum(axis=1)) * initial
        begin, made = np.zeros_like(demand), np.zeros_like(demand)
        for t in range(len(months)):
            begin[:, t] = net
            made[:, t] = _allocate(max(float(production[t]), 0.0), net, demand[:, t:], ss[:, t:])
            net = net + made[:, t] - demand[:, t]
        ending_net = begin + made - demand
        cum = np.cumsum(demand[:, ::-1], axis=1)[:, ::-1]  # demand from each month to the horizon's end
        ahead = np.zeros_like(demand)
        count = np.zeros(len(months))
        for t in range(len(months)):  # average demand of the next COVER_MONTHS months
            stop = min(t + 1 + COVER_MONTHS, len(months))
            count[t] = stop - (t + 1)
            if count[t]:
                ahead[:, t] = (cum[:, t + 1] - (cum[:, stop] if stop < len(months) else 0.0)) / count[t]
        ending = clean_solver_noise(np.maximum(ending_net, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where((ahead > TOLERANCE) & (count > 0), ending / np.where(ahead > TOLERANCE, ahead, 1.0), np.nan)
        n_sku, n_month = demand.shape
        frames.append(pl.DataFrame({
            "family": [family] * (n_sku * n_month),
            "sku": np.repeat(np.asarray(skus, dtype=object), n_month).tolist(),
            "month": months * n_sku,
            "beginning_inventory": clean_solver_noise(np.maximum(begin, 0.0)).ravel(),
            "beginning_backlog": clean_solver_noise(np.maximum(-begin, 0.0)).ravel(),
            "production": clean_solver_noise(made).ravel(),
            "demand": demand.ravel(),
            "ending_inventory": ending.ravel(),
            "backlog": clean_solver_noise(np.maximum(-ending_net, 0.0)).ravel(),
            "safety_stock": ss.ravel(),
            "months_of_supply": cover.ravel(),
        }, schema_overrides={"month": pl.Date}).with_columns(pl.col("months_of_supply").fill_nan(None)))
    return pl.concat(frames).select(INVENTORY_COLUMNS).sort(["family", "sku", "month"])
