"""The alignment assets materialised with Dagster: capacity plan, gap to budget and exceptions, published
with the cycle, their checks run (the high-severity one warns, never blocks)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
import yaml

from sop_pipeline.defs.alignment import assets as alignment_assets
from sop_pipeline.defs.alignment import checks as alignment_checks
from sop_pipeline.defs.resources import plan_resources
from sop_pipeline.defs.store import assets as publish_assets
from sop_pipeline.defs.supply import assets as planning_assets
from sop_pipeline.store import db
from tests.support.stages import CYCLE, PARTITION, demo_planning_settings, draft_demand_database, draft_sources

pytestmark = pytest.mark.slow


def _published(database: str, table: str) -> pl.DataFrame:
    conn = db.connect(database, read_only=True)
    try:
        return db.read_cycle(conn, table, CYCLE, schema="sop")
    finally:
        conn.close()


def test_alignment_tables_are_built_checked_and_published(tmp_path):
    database = draft_demand_database(tmp_path)
    demand = _published_draft_demand(database)
    # Budget: Cookware 30% above its plan (a high-severity gap), Textiles on plan.
    lines = ["family,month,units,revenue"]
    for family, month, units, revenue in demand.select("family", "month", "planned_units", "planned_revenue").rows():
        factor = {"Cookware": 1.3, "Textiles": 1.0}.get(family)
        if factor:
            lines.append(f"{family},{month:%Y-%m},{units * factor:.2f},{revenue * factor:.2f}")
    (tmp_path / "budget.csv").write_text("\n".join(lines) + "\n")
    # Packing: the chosen plan's own February hours, less 10%: the optimal plan must move production.
    settings = demo_planning_settings(tmp_path, resources=[
        {"name": "Packing", "hours_per_month": {"default": 100000, "2027-02": 2000},
         "hours_per_unit": {"Cookware": 0.5, "Small Appliances": 0.5}}])
    data = yaml.safe_load((tmp_path / "sop.yaml").read_text())
    (tmp_path / "sop.yaml").write_text(yaml.safe_dump({**data, "budget": "budget.csv"}, sort_keys=False))
    result = dg.materialize(
        [*dg.load_assets_from_modules([planning_assets, alignment_assets, publish_assets]),
         *draft_sources("demand_plan", "forecast", "forecast_accuracy"),
         *dg.load_asset_checks_from_modules([alignment_checks])],
        resources=plan_resources(settings, database),
        partition_key=PARTITION, raise_on_error=False)
    assert result.success
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert checks[alignment_checks.CAPACITY_PLAN_WITHIN_HOURS].passed
    assert checks[alignment_checks.BUDGET_GAP_ADDS_UP].passed
    warning = checks[alignment_checks.NO_HIGH_SEVERITY_EXCEPTIONS]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN

    capacity = _published(database, "capacity_plan")
    packing = capacity.filter((pl.col("resource") == "Packing") & (pl.col("family") == "ALL FAMILIES"))
    february = packing.filter(pl.col("month") == pl.date(2027, 2, 1)).row(0, named=True)
    assert february["hours_available"] == 2000
    assert february["hours_unconstrained"] > 2000                 # the demand plan alone would need more
    assert february["hours_required"] <= 2000 * (1 + 1e-9)       # the plan respects the centre (builds ahead)
    assert set(capacity["resource"]) == {"plant labour", "Packing"}

    gap = _published(database, "budget_gap")
    assert set(gap["family"]) == {"Cookware", "Textiles", "ALL FAMILIES"}
    cookware = gap.filter(pl.col("family") == "Cookware")
    assert ((cookware["revenue_gap_pct"] - 100 * (1 / 1.3 - 1)).abs() < 1e-6).all()

    found = _published(database, "exceptions")
    budget_rows = found.filter(pl.col("kind") == "budget_gap")
    assert budget_rows["family"].to_list() == ["Cookware"] and budget_rows["severity"].to_list() == ["high"]


def _published_draft_demand(database: str) -> pl.DataFrame:
    conn = db.connect(database, read_only=True)
    try:
        return db.read_cycle(conn, "demand_plan", CYCLE).group_by("family", "month").agg(
            pl.col("planned_units").sum(), pl.col("planned_revenue").sum()).sort("family", "month")
    finally:
        conn.close()
