"""A PNG of history and forecast per family, for asset metadata and reports."""

from __future__ import annotations

import io
import math

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_forecast_png(history: pl.DataFrame, forecast: pl.DataFrame, families: list[str]) -> bytes:
    """One panel per family: monthly units sold, the published forecast and its band.

    history: family, sku, month, units (as given to `forecast_demand`); forecast: its `forecast`
    frame (family-level rows are used).
    """
    families = list(families) or ["(none)"]
    cols = min(2, len(families))
    rows = math.ceil(len(families) / cols)
    # Figure + Agg canvas rather than pyplot: no global state, safe in worker threads.
    # Fixed margins, not a layout engine: the panels are alike, and "constrained" layout measured every
    # text's extent, half the plot's time (0.25 of 0.5 s on the demo), in the forecast step's serial tail.
    figure = Figure(figsize=(6 * cols, 3 * rows), dpi=100)
    height = 3 * rows  # inches: a title above each panel, rotated month labels below
    figure.subplots_adjust(left=0.07 if cols > 1 else 0.12, right=0.98, top=1 - 0.3 / height, bottom=0.45 / height,
                           wspace=0.18, hspace=0.42)
    FigureCanvasAgg(figure)
    actual = history.group_by("family", "month").agg(pl.col("units").sum()).sort("month")
    planned = forecast.filter(pl.col("level") == "family").sort("month")
    for n, family in enumerate(families):
        axes = figure.add_subplot(rows, cols, n + 1)
        past = actual.filter(pl.col("family") == family)
        ahead = planned.filter(pl.col("family") == family)
        axes.plot(past["month"].to_list(), past["units"].to_list(), color="#333333", label="history")
        if ahead.height:
            months = ahead["month"].to_list()
            axes.fill_between(months, ahead["yhat_lower"].to_list(), ahead["yhat_upper"].to_list(),
                              color="#1f77b4", alpha=0.25, linewidth=0, label="band")
            axes.plot(months, ahead["yhat"].to_list(), color="#1f77b4",
                      label=f"forecast ({ahead['method'][0]})")
        axes.set_title(family)
        axes.set_ylabel("units")
        axes.legend(loc="upper left", fontsize=7)
        axes.tick_params(axis="x", labelrotation=30, labelsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
