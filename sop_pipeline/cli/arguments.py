"""Command-line values every sub-command reads the same way."""

from __future__ import annotations

from datetime import date

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.common.months import parse_month


def parse_cycle(text: str) -> date:
    """`--cycle YYYY-MM` as the first day of that month."""
    cycle = parse_month(text)
    if cycle is None:
        raise SettingsError(f"--cycle {text!r} is not a month", fix="Write the plan cycle as YYYY-MM, e.g. 2026-11")
    return cycle
