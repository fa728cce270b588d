"""The executive report of a published plan cycle (one self-contained HTML file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def report_path(database_path: str | Path, cycle: date) -> Path:
    """`reports/sop_report_<YYYY-MM>.html` next to the DuckDB file, so a plan and its report travel together."""
    return Path(database_path).resolve().parent / "reports" / f"sop_report_{cycle:%Y-%m}.html"


def write_report(conn, database_path: str | Path, cycle: date) -> Path:
    """Render the cycle's report from its published sop.* rows and write it (then rename: a reader never
    opens a half-written report). Returns its path."""
    from sop_pipeline.report import html as report

    path = report_path(database_path, cycle)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(report.render_report(cycle, **report.read_published(conn, cycle)), encoding="utf-8")
    partial.replace(path)
    return path
