"""Small published-table-shaped frames for report tests (two families, two years, six-month plan)."""

from __future__ import annotations

import math
from datetime import date

import polars as pl

CYCLE = date(2026, 11, 1)
FAMILIES = ("Cookware", "Textiles")


def _month(start: date, k: int) -> date:
    y, m = divmod(start.month - 1 + k, 12)
    return date(start.year + y, m + 1, 1)


def report_frames() -> dict[str, pl.DataFrame]:
    history_months = [_month(date(2024, 11, 1), k) for k in range(24)]
    plan_months = [_month(CYCLE, k) for k in range(6)]
    history, forecast, plan, production, comparison, accuracy = [], [], [], [], [], []
    for f, family in enumerate(FAMILIES):
        base = 1000 * (f + 1)
        for k, m in enumerate(history_months):
            units = base + 300 * math.sin(2 * math.pi * k / 12)
            history += [{"family": family, "sku": f"{family}-{s}", "month": m, "units": units / 2,
                         "revenue": 10 * units / 2} for s in (1, 2)]
        for k, m in enumerate(plan_months):
            yhat = base + 300 * math.sin(2 * math.pi * (k + 24) / 12)
            forecast.append({"level": "family", "series_key": family, "family": family, "sku": None, "month": m,
                             "method": "prophet_top_down", "yhat": yhat, "yhat_lower": yhat * 0.85,
                             "yhat_upper": yhat * 1.15})
            plan.append({"family": family, "sku": f"{family}-1", "month": m, "statistical_forecast": yhat,
                         "planned_units": yhat * 1.05, "unit_price": 10.0, "planned_revenue": yhat * 10.5})
            for strategy, scale in (("level", 1.0), ("chase", 1.1), ("optimal", 0.9)):
                production.append({
                    "family": family, "strategy": strategy, "month": m, "demand": yhat * 1.05,
                    "workforce": 10.0 * (f + 1) + k * (strategy == "chase"), "hires": float(k == 0), "layoffs": 0.0,
                    "regular_units": yhat * 0.9, "overtime_units": yhat * 0.1 * (strategy == "optimal"),
                    "subcontract_units": 20.0 * (k == 3), "ending_inventory": 400.0 - 30 * k,
                    "backlog": 50.0 * (k == 5), "safety_stock": 300.0, "total_cost": 5000.0 * scale})
        for strategy, total in (("level", 30000.0), ("chase", 33000.0), ("optimal", 27000.0)):
            comparison.append({"family": family, "strategy": strategy, "total_cost": total,
                               "regular_labor_cost": total * 0.6, "material_cost": total * 0.3,
                               "holding_cost": total * 0.1, "units_short": 0.0, "chosen": strategy == "optimal"})
        accuracy += [{"level": "family", "series_key": family, "family": family, "method": method, "wape": w}
                     for method, w in (("chosen", 0.08 + f / 100), ("seasonal_naive", 0.15))]
    accuracy += [{"level": "total", "series_key": "total", "family": None, "method": method, "wape": w}
                 for method, w in (("chosen", 0.07), ("seasonal_naive", 0.12))]
    # Per family and an all-families total, as the planning stage publishes it.
    operating = [{"family": family, "month": m, "headcount": 10.0, "gross_margin": 100.0 * n,
                  "planned_revenue": 400.0 * n} for m in plan_months
                 for family, n in ((FAMILIES[0], 1), (FAMILIES[1], 1), ("ALL FAMILIES", 2))]
    return {"operating_plan": pl.DataFrame(operating), "demand_history": pl.DataFrame(history),
            "forecast": pl.DataFrame(forecast),
            "demand_plan": pl.DataFrame(plan), "production_plan": pl.DataFrame(production),
            "strategy_comparison": pl.DataFrame(comparison), "forecast_accuracy": pl.DataFrame(accuracy)}
