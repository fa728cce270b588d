"""What every published plan must satisfy, checked on the published tables of end-to-end runs."""

from __future__ import annotations

import polars as pl


def assert_optimal_never_dearer_in_cash(comparison: pl.DataFrame) -> None:
    """Per family, the optimal plan's cash cost is at most the level and chase plans' (docs/contracts.md: all three
    keep the same safety stock). An impossible level or chase plan has no cost and is not compared."""
    for (family,), rows in comparison.filter(pl.col("total_cost").is_not_null()).group_by("family"):
        cost = dict(zip(rows["strategy"], rows["total_cost"]))
        assert "optimal" in cost, family
        for other in ("level", "chase"):
            if other in cost:
                assert cost["optimal"] <= cost[other] + 1e-6 * max(1.0, cost[other]), (family, other, cost)
