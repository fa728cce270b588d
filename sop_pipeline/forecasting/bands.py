"""Prediction band (Prophet's sampling is off).

For a series with in-sample residual standard deviation s and backtest RMSE r over its origins'
held-out months, whose mean horizon is h_mid, the error at horizon h is
sigma_h = max(s, r * sqrt(h / h_mid)) (random-walk-like growth of forecast error, anchored on the
error actually seen out of sample); the band is yhat +- z * sigma_h with z the normal quantile for
`interval_width`, floored at zero. Families and the total take the band of their own model around
the coherent number; SKUs that are a share of their family take that share of the family's band;
fitted SKUs published from their own fit take their own. Bands therefore bracket yhat but need not
add up across levels (errors of SKUs are not perfectly correlated).
"""

from __future__ import annotations

import numpy as np

from sop_pipeline.forecasting.fitting import FitResult


def band_half_width(result: FitResult, band: tuple[float, float] | None, steps: int, z: float) -> np.ndarray:
    h = np.arange(1, steps + 1)
    if band is None:
        return z * np.full(steps, result.sigma)
    rmse, h_mid = band
    return z * np.maximum(result.sigma, rmse * np.sqrt(h / max(h_mid, 1.0)))
