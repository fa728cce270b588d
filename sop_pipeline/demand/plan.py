"""The demand plan: statistical forecast + new products - cannibalisation + consensus adjustments.

One row per `family, sku, month` of the horizon, built in this order:
1. `statistical_forecast`: the forecast's `yhat` for the SKU (a negative forecast counts as zero
   demand from here on: demand cannot be negative).
2. New products (`new_products.launch_curves`) appear as their own SKU rows with
   `new_product_units` (and no statistical forecast).
3. `cannibalized_units` (negative): each new product's cannibalised units are taken from the
   existing SKUs of its family in that month, in proportion to their statistical forecast. A
   family cannot lose more than its forecast: the taking is capped at the family's forecast, so
   the existing SKUs' `cannibalized_units` add up to minus the new products' cannibalisation
   unless the cap applies.
4. `unadjusted = max(0, statistical_forecast + new_product_units + cannibalized_units)`.
5. Consensus adjustments (`adjustments.apply_adjustments`): `adjustment_units` and
   `planned_units = max(0, unadjusted + requested change)`; see that module for the rules.
6. `unit_price`: the SKU's average price (revenue / units) over its last `price_months` months
   with sales before the cycle; a SKU without priced sales takes its family's average over the
   family's last `price_months` selling months; a new product takes its catalogue price.
   `planned_revenue = planned_units × unit_price`.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from sop_pipeline.demand.adjustments import ADJUSTMENT_SCHEMA, apply_adjustments

PLAN_COLUMNS = ["family", "sku", "month", "statistical_forecast", "new_product_units", "cannibalized_units",
                "adjustment_units", "planned_units", "unit_price", "planned_revenue", "adjustment_reasons",
                "adjustment_requested", "is_new_product"]


def recent_prices(history: pl.DataFrame, key: str, cycle: date, price_months: int) -> pl.DataFrame:
    """`key, unit_price`: revenue / units over each key's last `price_months` selling months."""
    if "revenue" not in history.columns:
        return pl.DataFrame(schema={key: pl.String, "unit_price": pl.Float64})
    monthly = (history.filter(pl.col("month") < cycle, pl.col("revenue").is_not_null())
               .group_by(key, "month").agg(pl.col("units").sum(), pl.col("revenue").sum())
               .filter(pl.col("units") > 0))
    recent = monthly.filter(pl.col("month").rank("ordinal", descending=True).over(key) <= price_months)
    # Sorted, then rounded to 1/10,000 of a currency unit: a float sum depends on the order its terms are
    # added in, and two runs on the same history must publish the same prices.
    return (recent.sort(key, "month").group_by(key, maintain_order=True)
            # No revenue at all (a sales history without a revenue column reads as 0) is no price, not price 0.
            .agg(unit_price=pl.when(pl.col("revenue").sum() != 0)
                 .then((pl.col("revenue").sum() / pl.col("units").sum()).round(4))))


def build_demand_plan(sku_forecast: pl.DataFrame, new_product_plan: pl.DataFrame | None,
                      adjustments: pl.DataFrame | None, history: pl.DataFrame, cycle: date,
                      price_months: int = 6, horizon_months: int | None = None) -> pl.DataFrame:
    """The demand plan (`PLAN_COLUMNS`), sorted by family, sku, month.

    `sku_forecast`: `family, sku, month, yhat`. `new_product_plan`: from `launch_curves` (or None).
    `adjustments`: from `load_adjustments` (or None). `history`: monthly `family, sku, month,
    units, revenue`. Adjustments outside cycle .. cycle + horizon_months - 1 (default: the
    forecast's months) raise InputDataError naming their row.
    """
    existing = sku_forecast.select(
        pl.col("family").cast(pl.String), pl.col("sku").cast(pl.String), pl.col("month").cast(pl.Date),
        statistical_forecast=pl.col("yhat").cast(pl.Float64),
        new_product_units=pl.lit(0.0), is_new_product=pl.lit(False))
    demand = pl.col("statistical_forecast").clip(lower_bound=0.0)
    if new_product_plan is not None and not new_product_plan.is_empty():
        taken = (new_product_plan.group_by("family", "month")
                 .agg(taken=pl.col("cannibalized_units").sum()))
        existing = (existing.join(taken, on=["family", "month"], how="left")
                    .with_columns(pl.col("taken").fill_null(0.0),
                                  family_demand=demand.sum().over("family", "month"))
                    .with_columns(cannibalized_units=pl.when(pl.col("family_demand") > 0)
                                  .then(-pl.min_horizontal("taken", "family_demand") * demand / pl.col("family_demand"))
                                  .otherwise(0.0))
                    .drop("taken", "family_demand"))
        new_rows = new_product_plan.select(
            "family", pl.col("product").alias("sku"), "month", statistical_forecast=pl.lit(0.0),
            new_product_units=pl.col("planned_units"), is_new_product=pl.lit(True),
            cannibalized_units=pl.lit(0.0), catalogue_price=pl.col("unit_price"))
        plan = pl.concat([existing.with_columns(catalogue_price=pl.lit(None, dtype=pl.Float64)), new_rows],
                         how="vertical_relaxed")
    else:
        plan = existing.with_columns(cannibalized_units=pl.lit(0.0), catalogue_price=pl.lit(None, dtype=pl.Float64))

    plan = plan.with_columns(
        unadjusted_units=(demand + pl.col("new_product_units") + pl.col("cannibalized_units")).clip(lower_bound=0.0))
    if adjustments is None:
        adjustments = pl.DataFrame(schema=ADJUSTMENT_SCHEMA)
    plan = apply_adjustments(plan, adjustments, cycle=cycle if horizon_months else None,
                             horizon_months=horizon_months)

    sku_price = recent_prices(history, "sku", cycle, price_months).rename({"unit_price": "sku_price"})
    family_price = recent_prices(history, "family", cycle, price_months).rename({"unit_price": "family_price"})
    plan = (plan.join(sku_price, on="sku", how="left").join(family_price, on="family", how="left")
            .with_columns(unit_price=pl.coalesce("catalogue_price", "sku_price", "family_price"))
            .with_columns(planned_revenue=pl.col("planned_units") * pl.col("unit_price")))
    return plan.select(PLAN_COLUMNS).sort("family", "sku", "month")


def demand_plan_by_family(plan: pl.DataFrame) -> pl.DataFrame:
    """Horizon totals per family of each step of the demand plan (forecast, launches, cannibalisation,
    adjustments) and the result in units and revenue."""
    return (plan.group_by("family").agg(
        pl.col("statistical_forecast").sum(), pl.col("new_product_units").sum(),
        pl.col("cannibalized_units").sum(), pl.col("adjustment_units").sum(), pl.col("planned_units").sum(),
        pl.col("planned_revenue").sum()).sort("family"))
