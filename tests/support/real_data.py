"""Real monthly sales from ../shared/data, shaped as the forecast's input (tests skip where absent)."""

from __future__ import annotations

import polars as pl

from tests.support.files import shared_file


def superstore_monthly() -> pl.DataFrame:
    """Superstore order lines to one row per Sub-Category (family), Product ID (SKU) and month,
    zero-filled between a product's first and last sale."""
    lines = pl.read_csv(shared_file("superstore_orders.csv"), encoding="utf8-lossy").select(
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


def superstore_region_subcategory_monthly() -> dict[str, pl.DataFrame]:
    """Superstore units per Region x Sub-Category and month (68 series of 48 months, zero-filled),
    one frame (month, units) per series."""
    lines = pl.read_csv(shared_file("superstore_orders.csv"), encoding="utf8-lossy").select(
        (pl.col("Region") + " " + pl.col("Sub-Category")).alias("series"),
        pl.col("Order Date").str.strptime(pl.Date, "%m/%d/%Y").dt.truncate("1mo").alias("month"),
        pl.col("Quantity").cast(pl.Float64).alias("units"),
    )
    months = pl.DataFrame({"month": pl.date_range(lines["month"].min(), lines["month"].max(), "1mo", eager=True)})
    grid = lines.select("series").unique().join(months, how="cross")
    monthly = (grid.join(lines.group_by("series", "month").agg(pl.col("units").sum()), on=["series", "month"],
                         how="left").fill_null(0.0).sort("series", "month"))
    return {name: frame.drop("series") for (name,), frame in monthly.group_by("series", maintain_order=True)}


def air_passengers_monthly() -> pl.DataFrame:
    """Prophet's own example series: monthly airline passengers 1949-1960, as (month, units)."""
    return pl.read_csv(shared_file("air_passengers_monthly.csv")).select(
        pl.col("ds").str.strptime(pl.Date, "%Y-%m-%d").alias("month"), pl.col("y").cast(pl.Float64).alias("units"))


def walmart_store_monthly() -> pl.DataFrame:
    """Walmart's 45 stores as families (each its own only SKU): Weekly_Sales summed per calendar
    month, 2010-02..2012-10 (the weeks are dated by their Friday; both end months hold 4 Fridays)."""
    weeks = pl.read_csv(shared_file("walmart_weekly_store_sales.csv")).select(
        pl.format("store{}", pl.col("Store").cast(pl.String).str.zfill(2)).alias("family"),
        pl.col("Date").str.strptime(pl.Date, "%d/%m/%y").dt.truncate("1mo").alias("month"),
        pl.col("Weekly_Sales").cast(pl.Float64).alias("units"),
    )
    monthly = weeks.group_by("family", "month").agg(pl.col("units").sum())
    return monthly.with_columns(pl.col("family").alias("sku")).select("family", "sku", "month", "units")


def single_series_monthly(name: str) -> pl.DataFrame:
    """One of the single monthly series of ../shared/data as a one-family, one-SKU history named
    `name`: us_retail_sales_monthly, australian_wine_sales_monthly (decimal-year `time`) or
    air_passengers_monthly."""
    frame = pl.read_csv(shared_file(f"{name}.csv"))
    if "time" in frame.columns:  # 1980.0833 = February 1980
        year = (pl.col("time") + 1e-6).floor()
        month = ((pl.col("time") - year) * 12).round().cast(pl.Int32) + 1
        frame = frame.select(pl.date(year.cast(pl.Int32), month, 1).alias("month"),
                             pl.col("value").cast(pl.Float64).alias("units"))
    else:
        frame = frame.select(pl.col("ds").str.strptime(pl.Date, "%Y-%m-%d").alias("month"),
                             pl.col("y").cast(pl.Float64).alias("units"))
    return frame.select(pl.lit(name).alias("family"), pl.lit(name).alias("sku"), "month", "units")
