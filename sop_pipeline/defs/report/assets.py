"""The executive report: one HTML file per published plan cycle, for the monthly S&OP meeting."""

import dagster as dg

from sop_pipeline.defs.partitions import plan_cycles
from sop_pipeline.defs.resources import PlanDatabase, cycle_of
from sop_pipeline.report import html as report
from sop_pipeline.report import report_path

GROUP = "report"


@dg.asset(
    key=["sop", "executive_report"],
    deps=[dg.AssetKey(["sop", "plan_runs"])],
    partitions_def=plan_cycles,
    group_name=GROUP,
    kinds={"html", "plotly"},
    description="The cycle's executive report (one self-contained HTML file, charts inlined) from the "
                "published sop.* tables: key figures, demand and forecast, production, inventory, "
                "headcount, strategy costs, forecast accuracy and the change since the previous plan.",
)
def executive_report(context: dg.AssetExecutionContext, database: PlanDatabase) -> dg.MaterializeResult:
    cycle = cycle_of(context)
    # Reads only sop.*, after publication: the report always shows a complete, published plan.
    with database.connect() as conn:
        frames = report.read_published(conn, cycle)
    path = report_path(database.database, cycle)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = report.render_report(cycle, **frames)
    # Write then rename, so a reader never opens a half-written report.
    partial = path.with_suffix(".html.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    missing = [name for name, frame in frames.items() if frame.height == 0]
    context.log.info(f"Executive report for {cycle:%Y-%m}: {path}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "url": dg.MetadataValue.url(path.as_uri()),
        "size_kb": dg.MetadataValue.int(round(path.stat().st_size / 1024)),
        "tables_without_rows": dg.MetadataValue.text(", ".join(f"sop.{m}" for m in missing) or "none"),
    })
