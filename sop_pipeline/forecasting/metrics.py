"""Backtest accuracy measures on plain NumPy arrays.

Conventions (what a planner reads in `sop.forecast_accuracy`):
- WAPE  = sum|forecast - actual| / sum|actual|          (null when the actuals sum to zero)
- MAPE  = mean of |forecast - actual| / |actual| over months with a non-zero actual, as a fraction
          (0.25 = 25 %; null when every actual is zero)
- bias  = sum(forecast - actual) / sum(actual)            (positive = over-forecast; null when sum is 0)
- MASE  = mean|forecast - actual| / in-sample MAE of the seasonal-naive forecast (lag 12, or lag 1
          when the training history has 12 months or fewer); null when that scale is zero or undefined.
"""

from __future__ import annotations

import numpy as np

SEASON = 12  # months in the seasonal cycle


def _valid(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def wape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denom = np.abs(actual).sum()
    return None if denom == 0 else _valid(np.abs(forecast - actual).sum() / denom)


def mape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    nonzero = actual != 0
    if not nonzero.any():
        return None
    return _valid(np.mean(np.abs(forecast[nonzero] - actual[nonzero]) / np.abs(actual[nonzero])))


def bias(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denom = actual.sum()
    return None if denom == 0 else _valid((forecast - actual).sum() / denom)


def naive_lag(n_train: int) -> int:
    """The seasonal-naive lag: a year when the history holds more than a year, else one month."""
    return SEASON if n_train > SEASON else 1


def mase(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray) -> float | None:
    actual, forecast, train = (np.asarray(a, float) for a in (actual, forecast, train))
    if len(train) < 2 or len(actual) == 0:
        return None
    lag = naive_lag(len(train))
    scale = np.mean(np.abs(train[lag:] - train[:-lag]))
    if not np.isfinite(scale) or scale == 0:
        return None
    return _valid(np.mean(np.abs(forecast - actual)) / scale)


def seasonal_naive(train: np.ndarray, steps: int) -> np.ndarray:
    """Repeat the last observed year (or the last month when there is no full year before it).

    Step h (1-based) takes the value `lag` months before, wrapping within the last `lag` months, so
    an 18-month horizon repeats last year's months in order.
    """
    train = np.asarray(train, float)
    if len(train) == 0:
        return np.zeros(steps)
    lag = SEASON if len(train) >= SEASON else 1  # a full year is enough to repeat it
    last = train[-lag:]
    return np.array([last[h % lag] for h in range(steps)])
