"""The forecast on real sales: Superstore order lines, Sub-Category as family, Product ID as SKU."""

from datetime import date

import polars as pl
import pytest

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand
from tests.support.real_data import superstore_monthly


@pytest.mark.slow
def test_chosen_forecast_beats_seasonal_naive_on_superstore():
    history = superstore_monthly()
    assert history["month"].max() == date(2017, 12, 1)
    settings = ForecastSettings(horizon_months=18, backtest_months=12, approach="best", workers=2)
    result = forecast_demand(history, settings, date(2018, 1, 1))

    family = result.accuracy.filter(pl.col("level") == "family")
    assert family["series_key"].n_unique() == 17
    # every rolling origin scored on its next 12 months (48 months of history: every origin fits backwards)
    assert (family["n_points"] == settings.backtest_origins * 12).all() and settings.backtest_origins >= 3
    # WAPE over all families at once: sum of absolute errors over sum of actuals.
    pooled = family.group_by("method").agg(
        (pl.col("sum_abs_error").sum() / pl.col("sum_actual").sum()).alias("wape"))
    wape = dict(pooled.iter_rows())
    assert wape["chosen"] < wape["seasonal_naive"]

    fc = result.forecast
    assert fc.filter(pl.col("level") == "family").height == 17 * 18
    assert fc.filter(pl.col("level") == "sku")["series_key"].n_unique() == history["sku"].n_unique()
    assert set(result.approach_by_family) == set(history["family"].unique())


@pytest.mark.slow
def test_approach_chosen_per_family_is_at_least_as_good_as_any_single_approach():
    """On Superstore the approach chosen per family (top-down, bottom-up, from the total,
    reconciled) reaches a family WAPE at least as good as the best single approach over the same
    rolling backtest, pooled over the 17 families and the rolling origins."""
    history = superstore_monthly()
    settings = ForecastSettings(horizon_months=12, backtest_months=12, approach="best", workers=1)
    result = forecast_demand(history, settings, date(2018, 1, 1))
    family = result.accuracy.filter(pl.col("level") == "family")
    pooled = dict(family.group_by("method").agg(
        (pl.col("sum_abs_error").sum() / pl.col("sum_actual").sum()).alias("wape")).iter_rows())
    singles = {a: pooled[a] for a in ("top_down", "bottom_up", "from_total", "reconciled")}
    assert pooled["chosen"] <= min(singles.values()) + 1e-12, (pooled, result.approach_by_family)
    # What the choice guarantees, family by family: the chosen approach has that family's lowest
    # backtest WAPE of the four (one approach may win every family: it does with the simplest models).
    for name, chosen in result.approach_by_family.items():
        scores = dict(family.filter(pl.col("series_key") == name).select("method", "wape").iter_rows())
        assert scores[chosen] == scores["chosen"] <= min(scores[a] for a in singles) + 1e-12, (name, scores)
    # And the published family numbers follow each family's choice.
    methods = dict(result.forecast.filter(pl.col("level") == "family").select("series_key", "method").unique().iter_rows())
    assert all(methods[f] == f"prophet_{a}" for f, a in result.approach_by_family.items())
