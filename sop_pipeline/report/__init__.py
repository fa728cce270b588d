"""The executive report of a published plan cycle (one self-contained HTML file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def report_path(database_path: str | Path, cycle: date) -> Path:
    """`reports/sop_report_<YYYY-MM>.html` next to the DuckDB file, so a plan and its report travel together."""
    return Path(database_path).resolve().parent / "reports" / f"sop_report_{cycle:%Y-%m}.html"
