"""Demand forecasting core: Prophet per series, top-down / bottom-up, backtest, coherent output.

No Dagster here; the Dagster layer calls `forecast_demand` and stores the frames it returns.
Names load on first use (PEP 562): a fit worker imports `fitting` alone, not Polars or Matplotlib.
"""

from sop_pipeline.common.lazy import lazy_getattr

_SOURCE = {
    "ACCURACY_SCHEMA": "pipeline", "FORECAST_SCHEMA": "pipeline", "PARAMS_SCHEMA": "pipeline",
    "ForecastResult": "pipeline", "forecast_demand": "pipeline", "plot_forecast_png": "plot",
    "wape": "metrics", "mape": "metrics", "bias": "metrics", "mase": "metrics", "seasonal_naive": "metrics",
}
__all__ = list(_SOURCE)

__getattr__ = lazy_getattr(__name__, _SOURCE)
