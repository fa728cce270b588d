"""The forecast on real sales: Superstore order lines, Sub-Category as family, Product ID as SKU."""

from datetime import date

import polars as pl
import pytest

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand
from tests.real_data import superstore_monthly


@pytest.mark.slow
def test_chosen_forecast_beats_seasonal_naive_on_superstore():
    history = superstore_monthly()
    assert history["month"].max() == date(2017, 12, 1)
    settings = ForecastSettings(horizon_months=18, backtest_months=12, approach="best", workers=2)
    result = forecast_demand(history, settings, date(2018, 1, 1))

    family = result.accuracy.filter(pl.col("level") == "family")
    assert family["series_key"].n_unique() == 17
    assert (family["n_points"] == 12).all()
    # WAPE over all families at once: sum of absolute errors over sum of actuals.
    pooled = family.group_by("method").agg(
        (pl.col("sum_abs_error").sum() / pl.col("sum_actual").sum()).alias("wape"))
    wape = dict(pooled.iter_rows())
    assert wape["chosen"] < wape["seasonal_naive"]

    fc = result.forecast
    assert fc.filter(pl.col("level") == "family").height == 17 * 18
    assert fc.filter(pl.col("level") == "sku")["series_key"].n_unique() == history["sku"].n_unique()
    assert set(result.approach_by_family) == set(history["family"].unique())
