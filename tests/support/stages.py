"""Materializing a few stages of the graph on draft tables a test wrote itself."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl
import yaml

from sop_pipeline.config.loading import DEMO_SETTINGS
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.store import db
from tests.support.planning_cases import DEMO_FAMILIES, seasonal_inputs

CYCLE = date(2026, 11, 1)  # a partition that exists whatever today's date (plan_cycles ends at this month)
PARTITION = "2026-11-01"


def demo_planning_settings(folder, **planning) -> str:
    """The demo's settings with `planning` keys changed and no planner files, written to `folder`/sop.yaml."""
    data = yaml.safe_load(DEMO_SETTINGS.read_text())
    data["sales"]["path"] = "unused.csv"
    data["new_products"] = data["adjustments"] = data["budget"] = None
    data["planning"].update(planning)
    path = folder / "sop.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def draft_demand_database(folder) -> str:
    """A plan database holding a seasonal demand plan and forecast of the demo's families in the draft tables
    of CYCLE (the supply stages' inputs)."""
    demand_plan, forecast = seasonal_inputs(DEMO_FAMILIES, n_months=12, start=CYCLE)
    path = folder / "plan.duckdb"
    conn = db.connect(path)
    try:
        db.ensure_schema(conn)
        db.replace_cycle(conn, "demand_plan", CYCLE, demand_plan.with_columns(
            statistical_forecast=pl.col("planned_units"), new_product_units=0.0, adjustment_units=0.0))
        db.replace_cycle(conn, "forecast", CYCLE, forecast)
    finally:
        conn.close()
    return str(path)


def draft_sources(*tables: str) -> list[dg.AssetSpec]:
    """The upstream assets `sop/<table>` of the stages a test materializes, as external assets: their
    frames are the cycle's rows the test wrote to `draft.<table>` (read by the DraftTables I/O manager)."""
    return [dg.AssetSpec(["sop", table], partitions_def=plan_cycles) for table in tables]
