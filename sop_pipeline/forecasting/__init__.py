"""Demand forecasting core: Prophet per series, top-down / bottom-up, backtest, coherent output.

No Dagster here; the Dagster layer calls `forecast_demand` and stores the frames it returns.
Names load on first use (PEP 562): a fit worker imports `fitting` alone, not Polars or Matplotlib.
"""

from importlib import import_module

_SOURCE = {
    "ACCURACY_SCHEMA": "pipeline", "FORECAST_SCHEMA": "pipeline", "PARAMS_SCHEMA": "pipeline",
    "ForecastResult": "pipeline", "forecast_demand": "pipeline", "plot_forecast_png": "plot",
    "wape": "metrics", "mape": "metrics", "bias": "metrics", "mase": "metrics", "seasonal_naive": "metrics",
}
__all__ = list(_SOURCE)


def __getattr__(name: str):
    if name not in _SOURCE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_SOURCE[name]}"), name)
