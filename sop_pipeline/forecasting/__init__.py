"""Demand forecasting core: Prophet per series, top-down / bottom-up, backtest, coherent output.

No Dagster here; the Dagster layer calls `forecast_demand` and stores the frames it returns.
Names load on first use (PEP 562): a fit worker imports `fitting` alone, not Polars or Matplotlib.
"""

from typing import TYPE_CHECKING

from sop_pipeline.common.lazy import lazy_getattr

if TYPE_CHECKING:  # the names below, for type checkers and editors; at run time they load on first use
    from sop_pipeline.forecasting.metrics import bias, mape, mase, seasonal_naive, wape
    from sop_pipeline.forecasting.pipeline import ForecastResult, forecast_demand
    from sop_pipeline.forecasting.plot import plot_forecast_png
    from sop_pipeline.forecasting.publish import ACCURACY_SCHEMA, FORECAST_SCHEMA, PARAMS_SCHEMA

_SOURCE = {
    "ACCURACY_SCHEMA": "publish", "FORECAST_SCHEMA": "publish", "PARAMS_SCHEMA": "publish",
    "ForecastResult": "pipeline", "forecast_demand": "pipeline", "plot_forecast_png": "plot",
    "wape": "metrics", "mape": "metrics", "bias": "metrics", "mase": "metrics", "seasonal_naive": "metrics",
}
__all__ = ["ACCURACY_SCHEMA", "FORECAST_SCHEMA", "PARAMS_SCHEMA", "ForecastResult", "forecast_demand",
           "plot_forecast_png", "wape", "mape", "bias", "mase", "seasonal_naive"]
assert set(__all__) == set(_SOURCE)

__getattr__ = lazy_getattr(__name__, _SOURCE)
