"""The demand plan: statistical forecast + new-product launch curves + consensus adjustments."""

from __future__ import annotations

from sop_pipeline.alignment.budget import load_budget
from sop_pipeline.config.schema import Settings
from sop_pipeline.demand.adjustments import load_adjustments
from sop_pipeline.demand.new_products import load_new_products


def check_planner_files(settings: Settings) -> None:
    """Read the new-product catalogue, the adjustments and the budget before the run, so a malformed file fails in
    seconds, not after the forecast. (Their references to SKUs and months are checked by the demand stage.)"""
    for key, loader in (("new_products", load_new_products), ("adjustments", load_adjustments),
                        ("budget", load_budget)):
        path = settings.resolve(getattr(settings, key))
        if path is not None:
            loader(path)
