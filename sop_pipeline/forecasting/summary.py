"""What a forecast run shows the planner: the backtest's accuracy per method, the approach and model
chosen per family, and the families to plot (plain frames, for the Dagster UI's metadata and the log)."""

from __future__ import annotations

import polars as pl


def accuracy_summary(accuracy: pl.DataFrame) -> pl.DataFrame:
    """Family-level backtest WAPE per method, pooled over families (the approach choice's evidence)."""
    family = accuracy.filter((pl.col("level") == "family") & pl.col("sum_actual").is_not_null())
    return (family.group_by("method")
            .agg((pl.col("sum_abs_error").sum() / pl.col("sum_actual").sum()).alias("pooled_wape"),
                 pl.col("wape").median().alias("median_family_wape"), pl.len().alias("families"))
            .sort("pooled_wape"))


def approach_table(forecast: pl.DataFrame, approach_by_family: dict[str, str]) -> pl.DataFrame:
    """family, approach (top-down, bottom-up, ...) and the Prophet model of its family-level forecast."""
    family_models = (forecast.filter(pl.col("level") == "family")
                     .group_by("series_key").agg(pl.col("model").first()).rename({"series_key": "family"}))
    return pl.DataFrame({"family": list(approach_by_family), "approach": list(approach_by_family.values())},
                        schema={"family": pl.Utf8, "approach": pl.Utf8}).join(family_models, on="family", how="left")


def largest_families(history: pl.DataFrame, count: int) -> list[str]:
    """The `count` families that sold the most units over the history."""
    return (history.group_by("family").agg(pl.col("units").sum()).sort("units", descending=True)
            ["family"].head(count).to_list())


def models_label(models) -> str:
    """forecast.models as the log prints it: a preset's name, or the configurations' names."""
    return models if isinstance(models, str) else ", ".join(m.name for m in models)
