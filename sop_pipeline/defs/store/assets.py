"""Publication: every stage's draft rows for the cycle become the published plan in one transaction."""


import json
from datetime import datetime

import dagster as dg
import polars as pl

from sop_pipeline.config.schema import SUPPLY_SKIPPED
from sop_pipeline.defs.metadata import markdown_table
from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, SopSettings, cycle_of
from sop_pipeline.store import db, versions
from sop_pipeline.track_record import backfill

GROUP = "publish"

# Every plan table is published from the asset of the same name (`sop/<table>`); the forecast asset
# also writes the model parameters, and this asset writes plan_runs itself.
WRITTEN_BY_OTHERS = {"forecast_model_params": "forecast", "plan_runs": None}
PUBLISHED_ASSETS = [dg.AssetKey(["sop", t]) for t in db.PLAN_TABLES if t not in WRITTEN_BY_OTHERS]


@dg.asset(
    key=["sop", "plan_runs"],
    deps=PUBLISHED_ASSETS,
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"duckdb"},
    description="Publishes the cycle: replaces its rows in every sop.* table in one transaction and "
                "records the run. Until this step succeeds, readers of sop.* see the previous plan.",
)
def plan_runs(context: dg.AssetExecutionContext, sop_settings: SopSettings,
              database: PlanDatabase) -> dg.MaterializeResult:
    settings = sop_settings.load()
    cycle = cycle_of(context)
    with database.connect() as conn:
        input_rows, input_files = conn.execute(db.sql_text("raw_sales_summary"), {"c": cycle}).fetchall()[0]
        solver_status = conn.execute(db.sql_text("chosen_solver_status"), {"plan_cycle": cycle}).fetchall()[0][0]
        scenarios = conn.execute(db.sql_text("cycle_scenarios").format(schema="draft"),
                                 {"plan_cycle": cycle}).fetchall()[0][0]
        run = pl.DataFrame({
            "run_id": [context.run_id],
            "settings_hash": [settings.fingerprint()],
            "input_rows": [int(input_rows)],
            "input_files": [input_files],
            "forecast_approach": [settings.forecast.approach],
            "strategy": [settings.planning.strategy if settings.plans_supply else None],
            "solver_status": [solver_status],
            "created_at": [datetime.now().replace(microsecond=0)],
            "supply_status": ["planned" if settings.plans_supply else "skipped"],
            "supply_note": [None if settings.plans_supply else SUPPLY_SKIPPED],
            "scenarios": [scenarios],
            # The settings as planned: `sop-pipeline what-if` rebuilds this cycle's planning settings from them.
            "settings_json": [json.dumps(settings.model_dump(mode="json"), sort_keys=True)],
            "run_kind": [backfill.BACKFILL if backfill.is_backfill(context.run.tags) else backfill.RUN],
        }, schema_overrides={"solver_status": pl.Utf8, "strategy": pl.Utf8, "supply_note": pl.Utf8,
                             "scenarios": pl.Utf8})
        db.replace_cycle(conn, "plan_runs", cycle, run)
        published = versions.publish(conn, cycle)
        counts = published.counts
        snapshot = db.write_published_snapshot(conn, database.database)
    context.log.info(published.describe())
    context.log.info(f"Published plan cycle {cycle:%Y-%m}: " + ", ".join(f"sop.{t}={n:,}" for t, n in counts.items()))
    context.log.info(f"Read-only copy of all published plans for SQL readers: {snapshot}")
    summary = pl.DataFrame({"table": [f"sop.{t}" for t in counts], "rows": list(counts.values())})
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(1),
        "published_rows": dg.MetadataValue.md(markdown_table(summary, rows=50)),
        "published": dg.MetadataValue.json(json.loads(json.dumps(counts))),
        "published_snapshot": dg.MetadataValue.path(str(snapshot)),
        "version": dg.MetadataValue.int(published.version),
        "supply_planning": "planned" if settings.plans_supply else f"skipped: {SUPPLY_SKIPPED}",
    })
