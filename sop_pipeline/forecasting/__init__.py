"""Demand forecasting core: Prophet per series, top-down / bottom-up, backtest, coherent output.

No Dagster here; the Dagster layer calls `forecast_demand` and stores the frames it returns.
"""

from sop_pipeline.forecasting.metrics import bias, mape, mase, seasonal_naive, wape
from sop_pipeline.forecasting.pipeline import (
    ACCURACY_SCHEMA,
    FORECAST_SCHEMA,
    PARAMS_SCHEMA,
    ForecastResult,
    forecast_demand,
)
from sop_pipeline.forecasting.plot import plot_forecast_png

__all__ = [
    "ACCURACY_SCHEMA", "FORECAST_SCHEMA", "PARAMS_SCHEMA", "ForecastResult", "forecast_demand",
    "plot_forecast_png", "wape", "mape", "bias", "mase", "seasonal_naive",
]
