"""The forecast on real sales: Superstore order lines, Sub-Category as family, Product ID as SKU."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sop_pipeline.forecasting import forecast_demand
from sop_pipeline.settings import ForecastSettings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUPERSTORE = DATA / "superstore_orders.csv"


def superstore_monthly() -> pl.DataFrame:
    """Order lines to one row per family, SKU and month, zero-filled between first and last sale."""
    lines = pl.read_csv(SUPERSTORE, encoding="utf8-lossy").select(
        pl.col("Sub-Category").alias("family"),
        pl.col("Product ID").alias("sku"),
        pl.col("Order Date").str.strptime(pl.Date, "%m/%d/%Y").dt.truncate("1mo").alias("month"),
        pl.col("Quantity").cast(pl.Float64).alias("units"),
        pl.col("Sales").cast(pl.Float64).alias("revenue"),
    )
    monthly = lines.group_by("family", "sku", "month").agg(pl.col("units", "revenue").sum())
    grid = (
        monthly.group_by("family", "sku")
        .agg(pl.col("month").min().alias("first"), pl.col("month").max().alias("last"))
        .with_columns(pl.date_ranges("first", "last", "1mo").alias("month"))
        .explode("month")
        .drop("first", "last")
    )
    return grid.join(monthly, on=["family", "sku", "month"], how="left").fill_null(0.0)


@pytest.mark.slow
def test_chosen_forecast_beats_seasonal_naive_on_superstore():
    if not SUPERSTORE.exists():
        pytest.skip(f"{SUPERSTORE} is not available")
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
