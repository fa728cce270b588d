"""Safety stock per family and SKU and month, from the forecast's uncertainty (`sop.safety_stock`)."""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

from sop_pipeline.common.errors import SettingsError

SAFETY_STOCK_COLUMNS = ["level", "family", "sku", "month", "yhat", "sigma_band", "sigma_backtest", "sigma",
                        "safety_stock"]


def safety_stock(forecast: pl.DataFrame, accuracy: pl.DataFrame | None, service_level: float,
                 interval_width: float) -> pl.DataFrame:
    """Safety stock per family x month and per SKU x month from the forecast's uncertainty.

        SS_t = z(service_level) * sigma_t,   sigma_t = max(sigma_band_t, sigma_backtest_t)

    - sigma_band_t: the forecast band read back as a standard deviation,
      (yhat_upper - yhat_lower) / (2 z(interval_width)). The band is floored at zero units, which
      narrows it from below only, so the upper half-width (yhat_upper - yhat) / z(interval_width)
      is used where it is larger: the unfloored width. It grows with the horizon as the band does.
    - sigma_backtest_t: the error the forecast actually made out of sample. `forecast_accuracy`
      gives the backtest WAPE of the published method (`method = 'chosen'`) for the same level and
      series; for normal errors the mean absolute error is sigma * sqrt(2/pi), so
      sigma_backtest_t = sqrt(pi/2) * WAPE * yhat_t. Null where the series was not backtested.
    - z(p) is the standard normal quantile, one-sided for the service level (the probability of no
      stock-out in a month: cycle service level), two-sided for the band: z((1 + width) / 2).

    `forecast`: rows of `sop.forecast` (level, series_key, family, sku, month, yhat, yhat_lower,
    yhat_upper); level 'family' and 'sku' rows are used. SKU safety stock comes from the SKU's own
    forecast. A family's is the larger of its own forecast's and the sum of the buffers its SKUs hold:
    SKUs are not interchangeable, so stock of one does not cover a shortfall of another, and a family
    plan that kept only the pooled buffer would leave most SKUs below theirs. What a SKU holds is more
    than its safety stock of the month when its demand is intermittent (`held_buffers`): a SKU forecast
    to sell in March and September only keeps March's buffer on its shelf until September, so the
    family's stock includes it in the months between (Superstore, 1,862 SKUs: without it, 220 of the
    230 SKUs with a buffer in the last month ended below half of it).
    SKUs or families without forecast rows (new products) get none.
    Returns SAFETY_STOCK_COLUMNS: level ('family' | 'sku'), family, sku (null for families),
    month, yhat, sigma_band, sigma_backtest, sigma, safety_stock.
    """
    if not 0.5 < service_level < 1:
        raise SettingsError(f"service_level {service_level} is not between 0.5 and 1", where="planning.service_level",
                            fix="Use a probability such as 0.95")
    z_service = NormalDist().inv_cdf(service_level)
    z_band = NormalDist().inv_cdf((1 + interval_width) / 2)
    rows = forecast.filter(pl.col("level").is_in(["family", "sku"]))
    if rows.is_empty():
        return pl.DataFrame(schema={"level": pl.String, "family": pl.String, "sku": pl.String, "month": pl.Date,
                                    **{c: pl.Float64 for c in SAFETY_STOCK_COLUMNS[4:]}})
    if accuracy is not None and not accuracy.is_empty():
        wape = (accuracy.filter(pl.col("method") == "chosen")
                .group_by(["level", "series_key"]).agg(pl.col("wape").max().alias("wape")))
        rows = rows.join(wape, on=["level", "series_key"], how="left")
    else:
        rows = rows.with_columns(wape=pl.lit(None, pl.Float64))
    half = pl.max_horizontal((pl.col("yhat_upper") - pl.col("yhat_lower")) / 2, pl.col("yhat_upper") - pl.col("yhat"))
    out = rows.with_columns(
        sigma_band=pl.max_horizontal(half, pl.lit(0.0)) / z_band,
        sigma_backtest=math.sqrt(math.pi / 2) * pl.col("wape") * pl.max_horizontal(pl.col("yhat"), pl.lit(0.0)),
    ).with_columns(
        sigma=pl.max_horizontal("sigma_band", "sigma_backtest"),  # nulls are ignored
    ).with_columns(
        safety_stock=z_service * pl.col("sigma"),
        family=pl.when(pl.col("level") == "family").then(pl.coalesce("family", "series_key")).otherwise("family"),
        sku=pl.when(pl.col("level") == "sku").then(pl.coalesce("sku", "series_key")).otherwise(None),
    )
    sku_total = (held_buffers(out.filter(pl.col("level") == "sku")).group_by("family", "month")
                 .agg(pl.col("held").sum().alias("sku_safety_stock")))
    out = (out.join(sku_total, on=["family", "month"], how="left")
           .with_columns(safety_stock=pl.when(pl.col("level") == "family")
                         .then(pl.max_horizontal("safety_stock", "sku_safety_stock"))
                         .otherwise(pl.col("safety_stock"))))
    return out.select(SAFETY_STOCK_COLUMNS).sort(["level", "family", "sku", "month"], nulls_last=True)


def held_buffers(sku_rows: pl.DataFrame) -> pl.DataFrame:
    """The stock each SKU holds at the end of each month when it gets just what it needs (family, sku,
    month, held): h_t = max(safety_stock_t, h_{t-1} - yhat_t), h before the horizon 0. A buffer stays on
    the SKU's shelf until its own demand uses it (no other SKU can), so in a month without forecast
    demand or safety stock the SKU still holds the last one; a buffer larger than the next months' needs
    is held down only as fast as the SKU sells.

    Unrolled, with D_t the SKU's demand to month t: h_t = max over k <= t of (safety_stock_k + D_k) - D_t
    (the buffer of month k, less what sold since), a running maximum per SKU rather than a loop over rows."""
    sold = pl.col("yhat").fill_null(0.0).clip(lower_bound=0.0).cum_sum().over("sku", order_by="month")
    return (sku_rows.select("family", "sku", "month", "yhat", "safety_stock")
            .with_columns(sold=sold)
            .with_columns(held=((pl.col("safety_stock").fill_null(0.0) + pl.col("sold")).cum_max()
                                .over("sku", order_by="month") - pl.col("sold")))
            .sort("sku", "month").select("family", "sku", "month", "held"))
