"""A production plan for one family and strategy: its per-period frame and its costs.

Every strategy ends in `plan_result`: the plan's decisions (workforce and units made per period)
go in, and inventory, backlog, hires, layoffs, hours and every cost column are derived from them
with the same arithmetic, so level, chase and optimal are costed identically and the totals are
the sums of the per-period columns (rounding happens only for display).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.problem import Problem

STRATEGIES = ("level", "chase", "optimal")

QUANTITY_COLUMNS = [
    "period", "demand", "working_days", "workforce", "hires", "layoffs", "regular_units", "overtime_units",
    "overtime_hours", "subcontract_units", "ending_inventory", "backlog", "safety_stock",
    "safety_stock_shortfall", "regular_hours", "idle_hours",
]
COST_COLUMNS = [
    "regular_labor_cost", "overtime_cost", "hiring_cost", "layoff_cost", "holding_cost", "backlog_cost",
    "material_cost", "subcontract_cost",
]
# The safety-stock penalty steers the optimal plan but is not cash: it stays out of total_cost.
PLAN_COLUMNS = QUANTITY_COLUMNS + COST_COLUMNS + ["total_cost", "safety_stock_penalty"]



@dataclass
class PlanResult:
    strategy: str
    status: str
    periods: pd.DataFrame            # one row per period, columns PLAN_COLUMNS
    family: str | None = None
    solver: dict = field(default_factory=dict)

    @property
    def cost_breakdown(self) -> dict[str, float]:
        return {col: float(self.periods[col].sum()) for col in COST_COLUMNS}

    @property
    def total_cost(self) -> float:
        return float(self.periods["total_cost"].sum())

    @property
    def safety_stock_penalty(self) -> float:
        return float(self.periods["safety_stock_penalty"].sum())

    @property
    def units_short(self) -> float:
        """Demand not met on time: the sum over periods of the ending backlog (unit-periods late)."""
        return float(self.periods["backlog"].sum())

    @property
    def frame(self) -> pd.DataFrame:
        return self.periods

    def to_dict(self) -> dict:
        """JSON-ready: total_cost, cost_breakdown, units_short, the penalty, solver figures, one dict per period."""
        records = self.periods.to_dict(orient="records")
        return {
            "status": self.status,
            "total_cost": self.total_cost,
            "cost_breakdown": self.cost_breakdown,
            "units_short": self.units_short,
            "safety_stock_penalty": self.safety_stock_penalty,
            # what the optimal plan minimises; the model's objective equals it (model.py, "Exactness")
            "cost_with_safety_stock_penalty": self.total_cost + self.safety_stock_penalty,
            "solver_objective": self.solver.get("objective"),
            "mip_gap": self.solver.get("mip_gap"),
            "ending_workforce": float(self.periods["workforce"].iloc[-1]),
            "periods": [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in records],
        }


def clean_solver_noise(values) -> np.ndarray:
    """Values within TOLERANCE of a whole number become that number (2599.9999999 -> 2600, -1e-9 -> 0)."""
    out = np.array(values, dtype=float)
    whole = np.round(out)
    near = np.abs(out - whole) < TOLERANCE
    out[near] = whole[near]
    return out + 0.0  # no -0.0


def plan_result(problem: Problem, strategy: str, workforce, regular_units, overtime_units=None,
                subcontract_units=None, status: str = "optimal", solver: dict | None = None) -> PlanResult:
    """Derive the whole plan (stocks, hours, costs) from the decisions of one strategy."""
    n = len(problem.periods)
    zeros = np.zeros(n)
    workforce = clean_solver_noise(workforce)
    if problem.workforce.integer:
        workforce = np.round(workforce)
    regular = clean_solver_noise(regular_units)
    overtime = zeros if overtime_units is None else clean_solver_noise(overtime_units)
    subcontract = zeros if subcontract_units is None else clean_solver_noise(subcontract_units)
    demand = problem.demand
    inv, costs = problem.inventory, problem.costs
    lhpu = problem.production.labor_hours_per_unit

    net = inv.initial - inv.initial_backlog + np.cumsum(regular + overtime + subcontract - demand)
    net = clean_solver_noise(net)
    ending_inventory, backlog = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    change = np.diff(workforce, prepend=problem.workforce.initial)
    hires, layoffs = clean_solver_noise(np.maximum(change, 0.0)), clean_solver_noise(np.maximum(-change, 0.0))
    regular_hours = workforce * problem.hours_per_worker
    safety_stock = problem.safety_stock
    # Net stock below safety stock (a backlogged unit is below it too), in months that have safety stock:
    # the shortfall the optimal model penalises (model.py, "Exactness").
    shortfall = clean_solver_noise(np.where(safety_stock > 0, np.maximum(safety_stock - net, 0.0), 0.0))

    frame = pd.DataFrame({
        "period": problem.period_names,
        "demand": demand,
        "working_days": problem.working_days,
        "workforce": workforce,
        "hires": hires,
        "layoffs": layoffs,
        "regular_units": regular,
        "overtime_units": overtime,
        "overtime_hours": overtime * lhpu,
        "subcontract_units": subcontract,
        "ending_inventory": ending_inventory,
        "backlog": backlog,
        "safety_stock": safety_stock,
        "safety_stock_shortfall": shortfall,
        "regular_hours": regular_hours,
        "idle_hours": clean_solver_noise(regular_hours - regular * lhpu),
        "regular_labor_cost": regular_hours * costs.regular_wage_per_hour,
        "overtime_cost": overtime * lhpu * costs.overtime_wage_per_hour,
        "hiring_cost": hires * costs.hire_per_worker,
        "layoff_cost": layoffs * costs.layoff_per_worker,
        "holding_cost": ending_inventory * costs.holding_per_unit_period,
        "backlog_cost": backlog * costs.backlog_per_unit_period,
        "material_cost": (regular + overtime) * costs.material_per_unit,
        "subcontract_cost": subcontract * costs.subcontract_per_unit,
    })
    frame["total_cost"] = frame[COST_COLUMNS].sum(axis=1)
    frame["safety_stock_penalty"] = shortfall * costs.shortfall_penalty
    return PlanResult(strategy=strategy, status=status, periods=frame[PLAN_COLUMNS],
                      family=problem.name, solver=solver or {})
