"""Small planning cases for the planning tests: problems built from the documented file format, and a
seasonal demand plan with its forecast for the demo's families (the supply stages' inputs)."""

from __future__ import annotations

import copy
from datetime import date

import numpy as np
import polars as pl

from sop_pipeline.config.problem import parse_problem


def problem_dict(demand, working_days=10, **sections) -> dict:
    """A problem with 10 units per worker per period (8 h/day x 10 days / 8 h per unit), no costs,
    no overtime or subcontracting unless a section says otherwise."""
    days = working_days if isinstance(working_days, list) else [working_days] * len(demand)
    data = {
        "periods": [{"name": f"P{i + 1}", "demand": d, "working_days": w} for i, (d, w) in enumerate(zip(demand, days))],
        "workforce": {"initial": 0, "hours_per_day": 8},
        "production": {"labor_hours_per_unit": 8, "max_overtime_hours_per_worker": 0, "max_subcontract_units": 0},
        "inventory": {},
        "costs": {},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data[section] = {**data.get(section, {}), **values}
        else:
            data[section] = values
    return copy.deepcopy(data)


def problem(demand, working_days=10, **sections):
    return parse_problem(problem_dict(demand, working_days, **sections), source="test")


def months(n: int, start: date = date(2027, 1, 1)) -> list[date]:
    return [date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1) for i in range(n)]


def seasonal_inputs(families: dict[str, int], n_months: int = 12, seed: int = 3, start: date = date(2027, 1, 1)):
    """A demand plan (SKUs of each family, seasonal) and a forecast with a band around it."""
    rng = np.random.default_rng(seed)
    horizon = months(n_months, start)
    plan_rows, forecast_rows = [], []
    for f, (family, n_skus) in enumerate(families.items()):
        family_units = np.zeros(n_months)
        for s in range(n_skus):
            base = rng.uniform(300, 1500)
            units = np.round(base * (1 + 0.4 * np.sin(2 * np.pi * (np.arange(n_months) + f + s) / 12)))
            family_units += units
            sku = f"{family[:3].upper()}-{s}"
            for m, u in zip(horizon, units):
                plan_rows.append({"family": family, "sku": sku, "month": m, "planned_units": float(u),
                                  "unit_price": 20.0, "planned_revenue": 20.0 * u})
                forecast_rows.append({"level": "sku", "series_key": sku, "family": family, "sku": sku, "month": m,
                                      "method": "prophet", "yhat": float(u), "yhat_lower": max(0.0, 0.8 * u),
                                      "yhat_upper": 1.2 * u})
        for m, u in zip(horizon, family_units):
            forecast_rows.append({"level": "family", "series_key": family, "family": family, "sku": None, "month": m,
                                  "method": "prophet", "yhat": u, "yhat_lower": 0.9 * u, "yhat_upper": 1.1 * u})
    return pl.DataFrame(plan_rows), pl.DataFrame(forecast_rows)


DEMO_FAMILIES = {"Cookware": 3, "Small Appliances": 2, "Cutlery": 2, "Bakeware": 2, "Storage": 2, "Textiles": 3}
