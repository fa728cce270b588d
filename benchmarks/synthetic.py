"""Synthetic monthly SKU histories (trend + yearly season + noise) for tests and benchmarks."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from sop_pipeline.common.months import month_number, month_of_number


def synthetic_history(n_skus: int, n_months: int = 48, n_families: int = 5, seed: int = 0,
                      end: date = date(2025, 12, 1)) -> pl.DataFrame:
    """`n_skus` SKUs over `n_families` families, each selling every month up to `end`.

    Returns the `forecast_demand` input: family, sku, month, units, revenue.
    """
    rng = np.random.default_rng(seed)
    end_number = month_number(end)
    numbers = np.arange(end_number - n_months + 1, end_number + 1)
    months = [month_of_number(n) for n in numbers]
    t = np.arange(n_months)
    frames = []
    for s in range(n_skus):
        level = rng.uniform(20, 200)
        trend = rng.normal(0, 0.01) * level
        season = rng.uniform(0.05, 0.3) * level * np.sin(2 * np.pi * (numbers % 12) / 12 + rng.uniform(0, 6.3))
        units = np.clip(np.round(level + trend * t + season + rng.normal(0, 0.08 * level, n_months)), 0, None)
        frames.append(pl.DataFrame({
            "family": f"F{s % n_families:02d}", "sku": f"SKU{s:05d}", "month": months,
            "units": units, "revenue": units * rng.uniform(5, 50),
        }))
    return pl.concat(frames)
