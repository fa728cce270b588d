"""Write a published cycle's executive report again (after a backfill, so it shows the track record)."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def write_report(conn, db_path: Path, cycle: date) -> Path:
    """The cycle's report from the published tables, written then renamed (as the report asset does)."""
    from sop_pipeline.report import html as report
    from sop_pipeline.report import report_path

    path = report_path(db_path, cycle)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(report.render_report(cycle, **report.read_published(conn, cycle)), encoding="utf-8")
    partial.replace(path)
    return path
