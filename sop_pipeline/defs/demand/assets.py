"""Demand stage: new-product launch curves and the demand plan (forecast + launches + consensus adjustments)."""

import dagster as dg
import polars as pl

from sop_pipeline.defs.metadata import markdown_table
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.demand.adjustments import load_adjustments
from sop_pipeline.demand.new_products import launches_by_product, load_new_products, no_launches
from sop_pipeline.demand.new_products import new_product_plan as new_product_plan_of
from sop_pipeline.demand.plan import build_demand_plan, demand_plan_by_family
from sop_pipeline.store import db
from sop_pipeline.track_record import backfill

GROUP = "demand"
HISTORY = dg.AssetKey(["sop", "demand_history"])
FORECAST = dg.AssetKey(["sop", "forecast"])
NEW_PRODUCT_PLAN = dg.AssetKey(["sop", "new_product_plan"])
DEMAND_PLAN = dg.AssetKey(["sop", "demand_plan"])


@dg.asset(
    key=NEW_PRODUCT_PLAN,
    ins={"history": dg.AssetIn(HISTORY)},
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="Launch curves of the new-product catalogue, from analog SKUs' first months (or a standard "
                "ramp), with the labour hours each launch needs per month.",
)
def new_product_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings,
                     history: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    catalogue_path = settings.resolve(settings.new_products)
    if catalogue_path is None:
        context.log.info("No new-product catalogue in the settings (new_products): no launches planned")
        plan = no_launches()
    else:
        catalogue = load_new_products(catalogue_path)
        if backfill.is_backfill(context.run.tags):
            listed = catalogue.height
            catalogue = backfill.plannable_launches(catalogue, history, cycle_of(context),
                                                    settings.forecast.horizon_months)
            context.log.info(f"Backfilled cycle: {listed - catalogue.height} of {listed} new product(s) left out "
                             "(launch outside the horizon, or analogs not sold yet)")
        plan = new_product_plan_of(catalogue, history, cycle_of(context), settings)
        context.log.info(f"{catalogue.height} new product(s) from {catalogue_path.name}: "
                         f"{plan['planned_units'].sum():,.0f} units over the horizon")
    return dg.MaterializeResult(value=plan, metadata={
        "launches": dg.MetadataValue.md(markdown_table(launches_by_product(plan), rows=50))})


@dg.asset(
    key=DEMAND_PLAN,
    ins={"history": dg.AssetIn(HISTORY), "launches": dg.AssetIn(NEW_PRODUCT_PLAN)},
    deps=[FORECAST],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    description="The updated sales plan per family, SKU and month: statistical forecast + new-product units "
                "− cannibalisation + consensus adjustments, with planned revenue at recent prices.",
)
def demand_plan(context: dg.AssetExecutionContext, sop_settings: SopSettings, database: PlanDatabase,
                history: pl.DataFrame, launches: pl.DataFrame) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    with database.connect() as conn:  # the SKU rows of draft.forecast only, with their families
        sku_forecast = db.query_pl(conn, db.sql_text("forecast_sku_rows"), {"c": cycle})
    adjustments_path = settings.resolve(settings.adjustments)
    adjustments = load_adjustments(adjustments_path) if adjustments_path else None
    if adjustments is not None and backfill.is_backfill(context.run.tags):
        listed = adjustments.height
        skus = set(sku_forecast["sku"].to_list()) | set(launches["product"].to_list())
        adjustments = backfill.plannable_adjustments(adjustments, cycle, settings.forecast.horizon_months, skus)
        context.log.info(f"Backfilled cycle: {listed - adjustments.height} of {listed} adjustment(s) left out "
                         "(months outside the horizon, or a SKU the cycle did not plan yet)")
    plan = build_demand_plan(sku_forecast, launches if launches.height else None, adjustments, history, cycle,
                             horizon_months=settings.forecast.horizon_months)
    adjusted = 0 if adjustments is None else adjustments.height
    context.log.info(f"Demand plan: {plan['planned_units'].sum():,.0f} units, "
                     + (f"{plan['planned_revenue'].sum():,.0f} revenue" if plan["planned_revenue"].count()
                        else "no revenue (no revenue in the sales history)") + f"; {adjusted} consensus adjustment(s) applied")
    return dg.MaterializeResult(value=plan, metadata={
        "by_family": dg.MetadataValue.md(markdown_table(demand_plan_by_family(plan), rows=100)),
        "adjustments_applied": dg.MetadataValue.int(adjusted)})
