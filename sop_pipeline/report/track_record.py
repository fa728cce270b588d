"""The report's "Track record" section: how the published cycles did once their months happened (accuracy and
bias by lag, the value-added staircase naive -> statistical -> consensus) and the plan's KPIs cycle by cycle.

Reads the views `sop.forecast_value_added` and `sop.kpi_history` (sql/view_*.sql); no numbers are made here.
"""

from __future__ import annotations

import html
from datetime import date

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from sop_pipeline.store import db
from sop_pipeline.track_record.backfill import BACKFILL

ALL_FAMILIES = "ALL FAMILIES"
STEP_COLOURS = {"naive": "#90a4ae", "statistical": "#1565c0", "consensus": "#ef6c00"}
STEPS = (("naive", "Seasonal naive"), ("statistical", "Statistical forecast"), ("consensus", "Consensus plan"))
LEAD = ("How the published cycles did once their months happened: error (WAPE) and bias by months ahead, "
        "what the statistical forecast and the consensus adjustments each added against a seasonal naive "
        "forecast, and the plan's KPIs cycle by cycle. Open markers are backfilled cycles (replayed on the "
        "history as it stood then).")


def read_track_record(conn, cycle: date) -> dict[str, pl.DataFrame]:
    """The track record as of `cycle`: KPIs of the cycles up to it, value added pooled over the published cycles."""
    kpis = db.query_pl(conn, "SELECT * FROM sop.kpi_history WHERE plan_cycle <= $c ORDER BY plan_cycle", {"c": cycle})
    value_added = db.query_pl(conn, "SELECT * FROM sop.forecast_value_added ORDER BY family, lag_order")
    return {"kpi_history": kpis, "forecast_value_added": value_added}


def _lag_label(lag: str) -> str:
    return "whole horizon" if lag == "horizon" else f"{lag} mo"


def _accuracy_chart(all_families: pl.DataFrame, figure_html) -> str:
    figure = make_subplots(rows=1, cols=2, subplot_titles=("WAPE by months ahead (lower is better)",
                                                           "Bias by months ahead (+ too high, − too low)"))
    labels = [_lag_label(lag) for lag in all_families["lag"]]
    for step, name in STEPS:
        figure.add_bar(x=labels, y=all_families[f"{step}_wape"], name=name, marker_color=STEP_COLOURS[step],
                       legendgroup=step, row=1, col=1, hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>")
        figure.add_bar(x=labels, y=all_families[f"{step}_bias"], name=name, marker_color=STEP_COLOURS[step],
                       legendgroup=step, showlegend=False, row=1, col=2,
                       hovertemplate="%{x}: %{y:+.1%}<extra>" + name + "</extra>")
    figure.update_yaxes(tickformat=".0%")
    figure.update_layout(height=360, barmode="group")
    return figure_html(figure)


def _staircase_chart(all_families: pl.DataFrame, figure_html) -> str:
    """Waterfalls from the naive WAPE down (or up) to the consensus WAPE, at 1 month ahead and over the horizon."""
    lags = [lag for lag in ("1", "horizon") if lag in all_families["lag"].to_list()]
    figure = make_subplots(rows=1, cols=len(lags),
                           subplot_titles=[f"Value added, {_lag_label(lag)} ahead" for lag in lags])
    for col, lag in enumerate(lags, start=1):
        row = all_families.filter(pl.col("lag") == lag).row(0, named=True)
        steps = [row["naive_wape"], -row["statistical_value_added"], -row["consensus_value_added"],
                 row["consensus_wape"]]
        figure.add_trace(go.Waterfall(
            x=["Naive WAPE", "Statistical adds", "Consensus adds", "Consensus WAPE"],
            measure=["absolute", "relative", "relative", "total"], y=steps,
            text=[f"{row['naive_wape']:.1%}", f"{row['statistical_value_added']:+.1%}",
                  f"{row['consensus_value_added']:+.1%}", f"{row['consensus_wape']:.1%}"],
            textposition="outside", showlegend=False,
            decreasing={"marker": {"color": "#2e7d32"}}, increasing={"marker": {"color": "#c62828"}},
            totals={"marker": {"color": STEP_COLOURS["consensus"]}}), row=1, col=col)
    figure.update_yaxes(tickformat=".0%")
    figure.update_layout(height=360)
    return figure_html(figure)


# The per-cycle panels: (title, [(column, name, colour)], axis format)
KPI_PANELS = (
    ("Consensus WAPE, 1 month ahead", [("wape_lag1", "consensus", STEP_COLOURS["consensus"]),
                                       ("statistical_wape_lag1", "statistical", STEP_COLOURS["statistical"]),
                                       ("naive_wape_lag1", "naive", STEP_COLOURS["naive"])], ".0%"),
    ("Consensus bias, 1 and 3 months ahead", [("bias_lag1", "1 month", STEP_COLOURS["consensus"]),
                                              ("bias_lag3", "3 months", "#6d4c41")], "+.0%"),
    ("Planned fill rate", [("fill_rate", "fill rate", "#2e7d32")], ".2%"),
    ("Days of supply and inventory turns", [("days_of_supply", "days of supply", "#1565c0"),
                                            ("inventory_turns", "turns a year", "#8e24aa")], ",.1f"),
    ("Peak capacity utilisation", [("peak_capacity_utilization", "peak", "#c62828")], ".1%"),
    ("Revenue against budget", [("revenue_gap_pct", "plan − budget", "#00838f")], "+.1%"),
)


def _has_data(kpis: pl.DataFrame, column: str) -> bool:
    return column in kpis.columns and not kpis[column].is_null().all()


def _axis_range(kpis: pl.DataFrame, columns: list[str], signed: bool) -> list[float] | None:
    """From 0 to a little above the highest value (a fill rate flat at 100% reads as 0-105%, not Plotly's
    0-200% around a constant); a signed measure (a bias) keeps Plotly's own range around 0."""
    values = pl.concat([kpis[c].cast(pl.Float64) for c in columns]).drop_nulls()
    if signed or values.is_empty() or values.min() < 0:
        return None
    return [0.0, max(float(values.max()), 1e-9) * 1.08]


def _kpi_chart(kpis: pl.DataFrame, figure_html) -> str:
    # Only panels with figures: without a planning section or a budget those KPIs do not exist.
    panels = [p for p in KPI_PANELS if any(_has_data(kpis, column) for column, _, _ in p[1])]
    if not panels:
        return ""
    rows = (len(panels) + 1) // 2
    figure = make_subplots(rows=rows, cols=2, subplot_titles=[title for title, _, _ in panels],
                           vertical_spacing=0.36 / rows, horizontal_spacing=0.08)
    cycles = [c.strftime("%Y-%m") for c in kpis["plan_cycle"]]
    symbols = ["circle-open" if kind == BACKFILL else "circle" for kind in kpis["run_kind"]]
    for n, (_title, series, fmt) in enumerate(panels):
        row, col = n // 2 + 1, n % 2 + 1
        shown = [(column, name, colour) for column, name, colour in series if _has_data(kpis, column)]
        for column, name, colour in shown:
            figure.add_scatter(x=cycles, y=kpis[column], name=name, mode="lines+markers", showlegend=False,
                               line={"color": colour}, marker={"symbol": symbols, "size": 7, "color": colour},
                               connectgaps=False, row=row, col=col,
                               hovertemplate="cycle %{x}: %{y:" + fmt + "}<extra>" + name + "</extra>")
            if len(shown) > 1:  # several lines in one panel: each named at its last point (no legend per panel)
                last = kpis.select("plan_cycle", column).drop_nulls().tail(1)
                figure.add_annotation(x=last["plan_cycle"][0].strftime("%Y-%m"), y=last[column][0], text=name,
                                      showarrow=False, xanchor="left", xshift=6, font={"color": colour, "size": 11},
                                      row=row, col=col)
        figure.update_yaxes(tickformat=fmt.replace("+", ""), row=row, col=col,
                            range=_axis_range(kpis, [column for column, _, _ in shown], signed="+" in fmt))
    figure.update_xaxes(type="category")
    figure.update_layout(height=280 * rows)
    return figure_html(figure)


def _value_added_table(value_added: pl.DataFrame, table) -> str:
    shown = (value_added.filter(pl.col("lag").is_in(["1", "3", "horizon"]))
             .sort([pl.col("family") != ALL_FAMILIES, "family", "lag_order"])
             .select(["family", pl.col("lag").map_elements(_lag_label, return_dtype=pl.String).alias("ahead"),
                      "n_cycles", "naive_wape", "statistical_wape", "consensus_wape", "consensus_bias",
                      "statistical_value_added", "consensus_value_added"]))
    pct = [c for c in shown.columns if c.endswith(("wape", "bias", "added"))]
    shown = shown.with_columns([(pl.col(c) * 100).round(1) for c in pct])
    shown = shown.rename({c: f"{c} %" for c in pct})
    return table(shown, digits={f"{c} %": 1 for c in pct})


def track_record_section(kpi_history: pl.DataFrame, forecast_value_added: pl.DataFrame, figure_html, table) -> str:
    """The section's HTML (charts drawn with the report's own `figure_html` and `table`)."""
    all_families = (forecast_value_added.filter(pl.col("family") == ALL_FAMILIES).sort("lag_order")
                    if forecast_value_added.height else forecast_value_added)
    parts = []
    if all_families.height == 0:
        parts.append('<p class="na">No published cycle has months with actuals yet, so there is no accuracy '
                     'record. Replay past cycles on your history to have one now: <code>sop-pipeline backfill '
                     '--from YYYY-MM --to YYYY-MM</code> (see the README).</p>')
    else:
        cycles = int(all_families["n_cycles"].max())
        backfilled = int((kpi_history["run_kind"] == BACKFILL).sum()) if kpi_history.height else 0
        parts.append(f"<p>Pooled over {cycles} cycle(s) with actuals ({backfilled} backfilled); WAPE and bias "
                     "summed over family-months. Value added is the WAPE a step removes: negative means the step "
                     "made the forecast worse.</p>")
        parts.append(_accuracy_chart(all_families, figure_html))
        parts.append(_staircase_chart(all_families, figure_html))
    if kpi_history.height:
        parts.append(_kpi_chart(kpi_history, figure_html))
    if all_families.height:
        parts.append("<h3>Value added by family</h3>" + _value_added_table(forecast_value_added, table))
    return "".join(parts) if parts else html.escape("")
