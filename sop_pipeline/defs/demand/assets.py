"""Demand stage: new-product launch curves and the demand plan (forecast + launches + consensus adjustments)."""

import dagster as dg
import polars as pl

from sop_pipeline.defs.metadata import markdown_table, table_metadata
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.demand.adjustments import load_adjustments
from sop_pipeline.demand.new_products import (
    PLAN_SCHEMA,
    labor_hours,
    labor_hours_per_unit_by_family,
    launch_curves,
    load_new_products,
)
from sop_pipeline.demand.plan import build_demand_plan
from sop_pipeline.store import db
from sop_pipeline.track_record import backfill

GROUP = "demand"
HISTORY = dg.AssetKey(["sop", "demand_history"])


@dg.asset(
    key=["sop", "new_product_plan"],
    deps=[HISTORY],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="Launch curves of the new-product catalogue, from analog SKUs' first months (or a standard "
                "ramp), with the labour hours each launch needs per month.",
)
def new_product_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings,
                     database: PlanDatabase) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    catalogue_path = settings.resolve(settings.new_products)
    with database.connect() as conn:
        history = db.read_cycle(conn, "demand_history", cycle)
    if catalogue_path is None:
        plan = pl.DataFrame(schema={**PLAN_SCHEMA, "labor_hours_required": pl.Float64})
        context.log.info("No new-product catalogue in the settings (new_products): no launches planned")
    else:
        catalogue = load_new_products(catalogue_path)
        if backfill.is_backfill(context.run.tags):
            listed = catalogue.height
            catalogue = backfill.plannable_launches(catalogue, history, cycle, settings.forecast.horizon_months)
            context.log.info(f"Backfilled cycle: {listed - catalogue.height} of {listed} new product(s) left out "
                             "(launch outside the horizon, or analogs not sold yet)")
        curves = launch_curves(catalogue, history, cycle, settings.forecast.horizon_months)
        rates = labor_hours_per_unit_by_family(settings.planning, curves["family"].unique().to_list())
        plan = labor_hours(curves, rates)
        context.log.info(f"{catalogue.height} new product(s) from {catalogue_path.name}: "
                         f"{plan['planned_units'].sum():,.0f} units over the horizon")
    with database.connect() as conn:
        db.replace_cycle(conn, "new_product_plan", cycle, plan)
    by_product = (plan.group_by("product", "family", "launch_month", "curve")
                  .agg(pl.col("planned_units").sum(), pl.col("labor_hours_required").sum()).sort("launch_month"))
    return dg.MaterializeResult(metadata=table_metadata(
        plan, "sop.new_product_plan", launches=dg.MetadataValue.md(markdown_table(by_product, rows=50))))


@dg.asset(
    key=["sop", "demand_plan"],
    deps=[dg.AssetKey(["sop", "forecast"]), new_product_plan, HISTORY],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="The updated sales plan per family, SKU and month: statistical forecast + new-product units "
                "− cannibalisation + consensus adjustments, with planned revenue at recent prices.",
)
def demand_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings,
                database: PlanDatabase) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    with database.connect() as conn:
        history = db.read_cycle(conn, "demand_history", cycle)
        sku_forecast = db.query_pl(conn, db.sql_text("forecast_sku_rows"), {"c": cycle})
        launches = db.read_cycle(conn, "new_product_plan", cycle)
    adjustments_path = settings.resolve(settings.adjustments)
    adjustments = load_adjustments(adjustments_path) if adjustments_path else None
    if adjustments is not None and backfill.is_backfill(context.run.tags):
        listed = adjustments.height
        adjustments = backfill.within_horizon(adjustments, cycle, settings.forecast.horizon_months)
        context.log.info(f"Backfilled cycle: {listed - adjustments.height} of {listed} adjustment(s) left out "
                         "(months outside the horizon)")
    plan = build_demand_plan(sku_forecast, launches if launches.height else None, adjustments, history, cycle,
                             horizon_months=settings.forecast.horizon_months)
    with database.connect() as conn:
        db.replace_cycle(conn, "demand_plan", cycle, plan)
    by_family = (plan.group_by("family").agg(
        pl.col("statistical_forecast").sum(), pl.col("new_product_units").sum(),
        pl.col("cannibalized_units").sum(), pl.col("adjustment_units").sum(), pl.col("planned_units").sum(),
        pl.col("planned_revenue").sum()).sort("family"))
    adjusted = 0 if adjustments is None else adjustments.height
    context.log.info(f"Demand plan: {plan['planned_units'].sum():,.0f} units, "
                     f"{plan['planned_revenue'].sum():,.0f} revenue; {adjusted} consensus adjustment(s) applied")
    return dg.MaterializeResult(metadata=table_metadata(
        plan, "sop.demand_plan", by_family=dg.MetadataValue.md(markdown_table(by_family, rows=100)),
        adjustments_applied=dg.MetadataValue.int(adjusted)))
