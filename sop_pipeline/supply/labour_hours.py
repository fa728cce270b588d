"""The chosen plan's labour hours, bottom-up, summed for the planner: per family over the horizon, and
per month over all families (the requirement itself comes from `supply.resource_requirements`)."""

from __future__ import annotations

import polars as pl

from sop_pipeline.supply import resource_requirements

HOURS = ("demand_hours", "hours_needed", "regular_hours", "overtime_hours")


def labour_hour_totals(problems, chosen_results) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """(hours by family, hours by month over all families) of the chosen strategy's plans; None when
    the chosen strategy has no plans."""
    if not chosen_results:
        return None
    requirement = pl.from_pandas(resource_requirements(problems, chosen_results))
    by_family = (requirement.filter(pl.col("family") != "ALL").group_by("family")
                 .agg(pl.col(*HOURS).sum()).sort("family"))
    by_month = requirement.filter(pl.col("family") == "ALL").select("period", *HOURS)
    return by_family, by_month


def peak_month(by_month: pl.DataFrame) -> dict | None:
    """The month needing the most labour hours (period, hours_needed, ...), or None without months."""
    return by_month.sort("hours_needed", descending=True).row(0, named=True) if by_month.height else None
