"""The executive S&OP report: one self-contained HTML file for the monthly meeting.

`render_report` takes frames shaped like the published tables (columns as in sql/create_tables.sql,
without plan_cycle) and returns the HTML text. plotly.js is inlined once, so the file opens without
a network connection (e-mailed, on a share, in an air-gapped plant). A stage whose table is empty
(not built or not run yet) gets a "not available" note instead of its chart.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
import tempfile
from datetime import date, datetime
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
import polars as pl
from plotly.subplots import make_subplots

from sop_pipeline.common.errors import SopError
from sop_pipeline.common.wording import families_named, some_of
from sop_pipeline.report import track_record
from sop_pipeline.store import db
from sop_pipeline.supply.result import COST_COLUMNS, STRATEGIES
from sop_pipeline.supply.tables import ALL_FAMILIES

# Small multiples stay readable up to about a dozen families; beyond that the largest are shown.
MAX_FAMILY_PANELS = 12
REPORT_TABLES = ("demand_history", "forecast", "forecast_accuracy", "demand_plan", "production_plan",
                 "strategy_comparison", "operating_plan", "plan_runs", "scenario_comparison", "budget_gap",
                 "capacity_plan", "exceptions")

COLOURS = {"history": "#37474f", "forecast": "#1565c0", "band": "rgba(21,101,192,0.18)",
           "plan": "#ef6c00", "regular": "#2e7d32", "overtime": "#f9a825", "subcontract": "#8e24aa",
           "inventory": "#1565c0", "safety": "#c62828", "backlog": "rgba(198,40,40,0.45)"}
PART_COLOURS = ["#1565c0", "#f9a825", "#2e7d32", "#6d4c41", "#00838f", "#c62828", "#78909c", "#8e24aa"]


def read_published(conn, cycle: date) -> dict[str, pl.DataFrame]:
    """The published rows of one cycle for every table the report shows, plus the plan-over-plan view."""
    frames = {t: db.read_cycle(conn, t, cycle, schema="sop") for t in REPORT_TABLES}
    frames["plan_over_plan"] = db.read_cycle(conn, "plan_over_plan", cycle, schema="sop")
    from sop_pipeline.store import decisions

    frames["exception_decisions"] = decisions.exception_decisions(conn, cycle)
    frames["decisions"] = decisions.decision_log(conn, cycle)
    frames.update(track_record.read_track_record(conn, cycle))
    return frames


def _frame(data) -> pl.DataFrame:
    """Polars, pandas or None (a stage that has not run) as a Polars frame."""
    if data is None:
        return pl.DataFrame()
    if isinstance(data, pl.DataFrame):
        return data
    return pl.from_pandas(data)


def _has(frame: pl.DataFrame, *columns: str) -> bool:
    return frame.height > 0 and all(c in frame.columns for c in columns)


def _num(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


HEADLINE_BILLION = 1e9  # from ten digits a card's figure reads in billions: "71,806,144,550" overran its card


def _headline(value) -> str:
    """A key-figure card's number: exact up to hundreds of millions, then in billions (the tables keep every digit)."""
    if value is not None and abs(value) >= HEADLINE_BILLION:  # NaN compares false: `_num` shows it
        return f"{value / HEADLINE_BILLION:,.1f} bn"
    return _num(value)


def _pct(value) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}%"


def _not_available(what: str) -> str:
    return f'<p class="na">{html.escape(what)}: not available for this cycle.</p>'


def _months(frame: pl.DataFrame) -> list[str]:
    return [m.isoformat() for m in frame["month"].to_list()]


def _figure_html(figure: go.Figure) -> str:
    # Plotly adds markers to short line traces by default; lines read better in small multiples.
    figure.for_each_trace(lambda trace: trace.update(mode="lines"),
                          selector=lambda trace: trace.type == "scatter" and trace.mode is None)
    figure.update_layout(template="plotly_white", font={"family": "Segoe UI, Helvetica, Arial, sans-serif",
                                                        "size": 12},
                         margin={"l": 60, "r": 20, "t": 60, "b": 40},
                         legend={"orientation": "h", "y": 1.06, "x": 0, "yanchor": "bottom"})
    return pio.to_html(figure, full_html=False, include_plotlyjs=False,
                       config={"displaylogo": False, "responsive": True})


LONG_TEXT = 40  # characters from which a table cell wraps (td.text)


def _table(frame: pl.DataFrame, digits: dict[str, int] | None = None, highlight: str | None = None,
           right: tuple[str, ...] = ()) -> str:
    """An HTML table; numbers right-aligned with separators (and the text of the `right` columns: numbers
    already written out beside a word such as "impossible"); rows where `highlight` is true in bold."""
    digits = digits or {}
    columns = [c for c in frame.columns if c != highlight]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    rows = []
    for row in frame.iter_rows(named=True):
        cells = []
        for c in columns:
            value = row[c]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="n">{_num(value, digits.get(c, 0))}</td>')
            elif value is None:
                cells.append('<td class="n">—</td>')
            else:
                text = str(value)
                # A long text (a scenario's description) wraps in a readable column instead of widening the table.
                wide = ' class="n"' if c in right else ' class="text"' if len(text) > LONG_TEXT else ""
                cells.append(f"<td{wide}>{html.escape(text)}</td>")
        marked = ' class="chosen"' if highlight and row.get(highlight) else ""
        rows.append(f"<tr{marked}>{''.join(cells)}</tr>")
    # Inside its own scrolling box: a table wider than its card scrolls there, never past the card.
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _chosen_production(production_plan: pl.DataFrame, strategy_comparison: pl.DataFrame) -> pl.DataFrame:
    """The production plan rows of each family's chosen strategy."""
    if not _has(production_plan, "family", "strategy", "month"):
        return pl.DataFrame()
    if _has(strategy_comparison, "family", "strategy", "chosen"):
        chosen = strategy_comparison.filter(pl.col("chosen")).select("family", "strategy")
        return production_plan.join(chosen, on=["family", "strategy"]).sort("family", "month")
    # No comparison published: the plan is unambiguous only when one strategy was planned.
    strategies = production_plan["strategy"].unique().to_list()
    return production_plan.sort("family", "month") if len(strategies) == 1 else pl.DataFrame()


def _panel_families(frames: dict[str, pl.DataFrame]) -> tuple[list[str], int]:
    """Families for the small multiples, largest planned volume first; and how many there are."""
    for name, column in (("demand_plan", "planned_units"), ("forecast", "yhat"), ("demand_history", "units"),
                         ("production_plan", "demand")):
        frame = frames[name]
        if _has(frame, "family", column):
            if name == "forecast":
                frame = frame.filter(pl.col("level") == "family")
            totals = (frame.filter(pl.col("family").is_not_null()).group_by("family")
                      .agg(pl.col(column).sum()).sort([column, "family"], descending=[True, False]))
            if totals.height:
                families = totals["family"].to_list()
                return families[:MAX_FAMILY_PANELS], len(families)
    return [], 0


def _grid(families: list[str], row_height: int = 300) -> go.Figure:
    cols = 2 if len(families) > 1 else 1
    rows = math.ceil(len(families) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=families, vertical_spacing=0.32 / max(rows, 1),
                           horizontal_spacing=0.08)
    figure.update_layout(height=120 + row_height * rows)
    return figure


def _cell(n: int, cols: int) -> dict:
    return {"row": n // cols + 1, "col": n % cols + 1}


def _cols(families: list[str]) -> int:
    return 2 if len(families) > 1 else 1


def _demand_section(frames, families) -> str:
    history, forecast, plan = frames["demand_history"], frames["forecast"], frames["demand_plan"]
    have_history = _has(history, "family", "month", "units")
    have_forecast = _has(forecast, "level", "family", "month", "yhat", "yhat_lower", "yhat_upper")
    have_plan = _has(plan, "family", "month", "planned_units")
    if not families or not (have_history or have_forecast):
        return _not_available("Demand history and forecast")
    actual = history.group_by("family", "month").agg(pl.col("units").sum()).sort("month") if have_history else None
    ahead = forecast.filter(pl.col("level") == "family").sort("month") if have_forecast else None
    planned = plan.group_by("family", "month").agg(pl.col("planned_units").sum()).sort("month") if have_plan else None
    figure, cols = _grid(families), _cols(families)
    for n, family in enumerate(families):
        where, first = _cell(n, cols), n == 0
        if actual is not None:
            past = actual.filter(pl.col("family") == family)
            figure.add_trace(go.Scatter(x=_months(past), y=past["units"].to_list(), name="history",
                                        line={"color": COLOURS["history"], "width": 1.6},
                                        legendgroup="history", showlegend=first), **where)
        if ahead is not None:
            fam = ahead.filter(pl.col("family") == family)
            months = _months(fam)
            figure.add_trace(go.Scatter(x=months + months[::-1],
                                        y=fam["yhat_upper"].to_list() + fam["yhat_lower"].to_list()[::-1],
                                        fill="toself", fillcolor=COLOURS["band"], line={"width": 0},
                                        name="forecast band", hoverinfo="skip", legendgroup="band",
                                        showlegend=first), **where)
            figure.add_trace(go.Scatter(x=months, y=fam["yhat"].to_list(), name="statistical forecast",
                                        line={"color": COLOURS["forecast"], "width": 2},
                                        legendgroup="forecast", showlegend=first), **where)
        if planned is not None:
            fam = planned.filter(pl.col("family") == family)
            figure.add_trace(go.Scatter(x=_months(fam), y=fam["planned_units"].to_list(), name="demand plan",
                                        line={"color": COLOURS["plan"], "width": 2, "dash": "dash"},
                                        legendgroup="plan", showlegend=first), **where)
    figure.update_yaxes(title_text="units", rangemode="tozero")
    notes = [] if have_plan else [_not_available("Demand plan (new products and adjustments)")]
    return _figure_html(figure) + "".join(notes)


def _production_section(chosen, families) -> str:
    if not _has(chosen, "family", "month", "demand"):
        return _not_available("Production plan")
    figure, cols = _grid(families), _cols(families)
    levers = (("regular_units", "regular", COLOURS["regular"]), ("overtime_units", "overtime", COLOURS["overtime"]),
              ("subcontract_units", "subcontract", COLOURS["subcontract"]))
    for n, family in enumerate(families):
        where, first = _cell(n, cols), n == 0
        fam = chosen.filter(pl.col("family") == family)
        months = _months(fam)
        for column, label, colour in levers:
            if column in fam.columns:
                figure.add_trace(go.Bar(x=months, y=fam[column].fill_null(0).to_list(), name=label,
                                        marker_color=colour, legendgroup=label, showlegend=first), **where)
        figure.add_trace(go.Scatter(x=months, y=fam["demand"].to_list(), name="demand", mode="lines+markers",
                                    line={"color": COLOURS["history"], "width": 2}, marker={"size": 4},
                                    legendgroup="demand", showlegend=first), **where)
    figure.update_layout(barmode="stack", bargap=0.15)
    figure.update_yaxes(title_text="units", rangemode="tozero")
    return _figure_html(figure)


def _inventory_section(chosen, families) -> str:
    if not _has(chosen, "family", "month", "ending_inventory"):
        return _not_available("Inventory plan")
    figure, cols = _grid(families), _cols(families)
    backlog_shown = False
    for n, family in enumerate(families):
        where, first = _cell(n, cols), n == 0
        fam = chosen.filter(pl.col("family") == family)
        months = _months(fam)
        if "backlog" in fam.columns and (fam["backlog"].fill_null(0) > 0).any():
            figure.add_trace(go.Bar(x=months, y=fam["backlog"].to_list(), name="backlog",
                                    marker_color=COLOURS["backlog"], legendgroup="backlog",
                                    showlegend=not backlog_shown), **where)
            backlog_shown = True
        figure.add_trace(go.Scatter(x=months, y=fam["ending_inventory"].to_list(), name="ending inventory",
                                    line={"color": COLOURS["inventory"], "width": 2}, fill="tozeroy",
                                    fillcolor="rgba(21,101,192,0.08)", legendgroup="inventory",
                                    showlegend=first), **where)
        if "safety_stock" in fam.columns and fam["safety_stock"].null_count() < fam.height:
            figure.add_trace(go.Scatter(x=months, y=fam["safety_stock"].to_list(), name="safety stock",
                                        line={"color": COLOURS["safety"], "width": 1.8, "dash": "dot"},
                                        legendgroup="safety", showlegend=first), **where)
    figure.update_yaxes(title_text="units", rangemode="tozero")
    return _figure_html(figure)


def _headcount_section(chosen) -> str:
    if not _has(chosen, "family", "month", "workforce"):
        return _not_available("Headcount plan")
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.08,
                           subplot_titles=["workers by family", "hires and layoffs (all families)"])
    for n, family in enumerate(sorted(chosen["family"].unique().to_list())):
        fam = chosen.filter(pl.col("family") == family)
        figure.add_trace(go.Scatter(x=_months(fam), y=fam["workforce"].to_list(), name=family, stackgroup="people",
                                    line={"width": 0.8, "color": PART_COLOURS[n % len(PART_COLOURS)]}), row=1, col=1)
    moves = (chosen.group_by("month").agg(pl.col("hires").fill_null(0).sum(), pl.col("layoffs").fill_null(0).sum())
             .sort("month") if _has(chosen, "hires", "layoffs") else None)
    if moves is not None:
        figure.add_trace(go.Bar(x=_months(moves), y=moves["hires"].to_list(), name="hires",
                                marker_color=COLOURS["regular"]), row=2, col=1)
        figure.add_trace(go.Bar(x=_months(moves), y=(-moves["layoffs"]).to_list(), name="layoffs",
                                marker_color=COLOURS["safety"]), row=2, col=1)
    figure.update_layout(height=620, barmode="relative")
    figure.update_yaxes(title_text="workers", row=1, col=1)
    figure.update_yaxes(title_text="people", row=2, col=1)
    return _figure_html(figure)


def _cost_section(comparison: pl.DataFrame) -> str:
    if not _has(comparison, "family", "strategy", "total_cost"):
        return _not_available("Strategy cost comparison")
    strategies = [s for s in STRATEGIES if s in comparison["strategy"].to_list()] + sorted(
        set(comparison["strategy"].to_list()) - set(STRATEGIES))
    # The optimiser weighs months below safety stock at a penalty: show it as a part of the bar and rank the
    # strategies on cash + penalty, the measure on which the optimal plan is never dearer.
    ranked_on = "cost_with_safety_stock_penalty" if "cost_with_safety_stock_penalty" in comparison.columns \
        else "total_cost"
    parts = [p for p in [*COST_COLUMNS, "safety_stock_penalty"]
             if p in comparison.columns and comparison[p].fill_null(0).abs().sum() > 0]
    totals = comparison.group_by("strategy").agg(
        pl.col(p).fill_null(0).sum() for p in dict.fromkeys([*parts, ranked_on]))
    figure = go.Figure()
    for n, part in enumerate(parts):
        values = {r["strategy"]: r[part] for r in totals.iter_rows(named=True)}
        figure.add_trace(go.Bar(x=strategies, y=[values.get(s, 0) for s in strategies],
                                name=part.replace("_", " ").removesuffix(" cost"),
                                marker_color=PART_COLOURS[n % len(PART_COLOURS)]))
    grand = {r["strategy"]: r[ranked_on] for r in totals.iter_rows(named=True)}
    # An impossible strategy is shown as such, never as a 0 bar; totals say how many families they cover.
    n_families = comparison["family"].n_unique()
    planned = {s: comparison.filter((pl.col("strategy") == s) & pl.col("total_cost").is_not_null()).height
               for s in strategies}
    labels = [("impossible" if not planned[s] else _num(grand.get(s))
               + ("" if planned[s] == n_families else f" ({planned[s]} of {n_families} families)"))
              for s in strategies]
    figure.add_trace(go.Scatter(x=strategies, y=[grand.get(s, 0) if planned[s] else 0 for s in strategies],
                                mode="text", text=labels, textposition="top center",
                                showlegend=False, hoverinfo="skip"))
    figure.update_layout(barmode="stack", height=440, yaxis_title="cost over the horizon, all families")
    # One row per family and strategy: "first", since a sum of nothing is 0 and would show an impossible plan as free.
    wide = comparison.pivot(on="strategy", index="family", values=ranked_on, aggregate_function="first")
    impossible_cells = [s for s in strategies if s in wide.columns and wide[s].null_count()]
    wide = wide.with_columns(pl.col(s).map_elements(_num, return_dtype=pl.String).fill_null("impossible")
                             for s in impossible_cells)
    chosen = (comparison.filter(pl.col("chosen")).group_by("family").agg(pl.col("strategy").first().alias("chosen"))
              if "chosen" in comparison.columns else pl.DataFrame({"family": [], "chosen": []}))
    wide = wide.join(chosen, on="family", how="left").sort("family")
    ordered = ["family", *[s for s in strategies if s in wide.columns], "chosen"]
    if "units_short" in comparison.columns:
        short = comparison.filter(pl.col("chosen")).group_by("family").agg(pl.col("units_short").sum())
        wide = wide.join(short, on="family", how="left")
        ordered.append("units_short")
    if "starting_workforce" in comparison.columns and "ending_workforce" in comparison.columns:
        crew = comparison.filter(pl.col("chosen")).group_by("family").agg(
            pl.col("starting_workforce").first().alias("workforce_start"),
            pl.col("ending_workforce").first().alias("workforce_end"))
        wide = wide.join(crew, on="family", how="left")
        ordered += ["workforce_start", "workforce_end"]
    reasons = ""
    if "solver_status" in comparison.columns:
        failed = (comparison.filter(pl.col("solver_status").str.starts_with("infeasible"))
                  .with_columns(reason=pl.col("solver_status").str.strip_prefix("infeasible: ")))
        shared = failed.group_by("strategy", "reason").agg(pl.col("family").sort()).sort("strategy", "reason")
        if 0 < shared.height <= _SHARED_REASONS:
            # A few reasons (one work centre fails every family's level plan alike): each said once, with its families.
            items = "".join(f"<li><b>{html.escape(strategy)}</b> impossible for {html.escape(families_named(families, 8))}: "
                            f"{html.escape(reason)}</li>" for strategy, reason, families in shared.iter_rows())
            reasons = f'<ul class="notes">{items}</ul>'
        elif shared.height:
            why = failed.group_by("family").agg(
                pl.concat_str([pl.col("strategy"), pl.col("reason")], separator=": ").str.join("; ").alias("impossible"))
            wide = wide.join(why, on="family", how="left").with_columns(pl.col("impossible").fill_null(""))
            ordered.append("impossible")
    table = _table(wide.select(ordered), right=tuple(impossible_cells))
    gaps = (comparison.filter(pl.col("strategy") == "optimal")["mip_gap"].drop_nulls()
            if "mip_gap" in comparison.columns else pl.Series([], dtype=pl.Float64))
    gap_note = (f"<p>The optimal plans are within {gaps.max():.2%} of the least possible cost (the solver's "
                "relative gap reached).</p>" if not gaps.is_empty() else "")
    note = ("<p>Costs over the horizon. Cash cost plus the safety-stock penalty (each unit-month below safety "
            "stock at <code>costs.safety_stock_shortfall_per_unit</code>): what the optimal plan minimises.</p>"
            if ranked_on != "total_cost" else "")
    return f'{note}{gap_note}{reasons}<div class="two"><div>{_figure_html(figure)}</div><div>{table}</div></div>'


_SHARED_REASONS = 6  # at most this many distinct reasons are listed above the table; more go in a column


def _history_notes(accuracy: pl.DataFrame) -> str:
    """Why some series have no backtest or no yearly shape (too little history), one line per note."""
    if not _has(accuracy, "series_key", "note"):
        return ""
    notes = (accuracy.filter(pl.col("note").is_not_null()).group_by("note")
             .agg(pl.col("series_key").unique().sort()).sort("note"))
    items = "".join(f"<li>{html.escape(some_of(keys, 8))}"
                    f": {html.escape(note)}</li>" for note, keys in notes.iter_rows())
    return f'<ul class="notes">{items}</ul>' if items else ""


def _scenario_section(comparison: pl.DataFrame) -> str:
    """All-families KPIs per scenario with their change against base, and cost and margin side by side."""
    if not _has(comparison, "scenario", "family", "status", "total_cost", "gross_margin"):
        return _not_available("Scenarios")
    total = comparison.filter(pl.col("family") == ALL_FAMILIES).sort(pl.col("scenario") != "base", "scenario")
    planned = total.filter(pl.col("status") == "planned")
    figure = go.Figure()
    for column, colour in (("total_cost", PART_COLOURS[0]), ("gross_margin", PART_COLOURS[2])):
        figure.add_trace(go.Bar(x=planned["scenario"].to_list(), y=planned[column].to_list(),
                                name=column.replace("_", " "), marker_color=colour,
                                text=[_num(v) for v in planned[column].to_list()], textposition="outside"))
    figure.update_layout(barmode="group", height=420, yaxis_title="over the horizon, all families")
    shown = ["planned_units", "total_cost", "cost_with_safety_stock_penalty", "gross_margin", "units_short",
             "fill_rate", "peak_headcount", "overtime_hours", "subcontracted_units", "peak_capacity_utilization"]
    percent = {"fill_rate", "peak_capacity_utilization"}
    columns = [pl.col("scenario")]
    for kpi in shown:
        scale = 100 if kpi in percent else 1
        label = kpi.replace("_", " ") + (" %" if kpi in percent else "")
        columns.append((pl.col(kpi) * scale).alias(label))
        if kpi in ("total_cost", "cost_with_safety_stock_penalty", "gross_margin", "units_short", "fill_rate"):
            columns.append((pl.col(f"{kpi}_change") * scale).alias(f"{label} change"))
    columns.append(pl.when(pl.col("status") == "planned").then(pl.col("description"))
                   .otherwise(pl.col("status")).alias("description"))
    table = _table(total.select(columns), digits={"fill rate %": 1, "fill rate % change": 1,
                                                  "peak capacity utilization %": 1})
    return (f"{_figure_html(figure)}<p>Horizon totals for all families; each change is against the published plan "
            "(<code>base</code>). Cost is cash; with the safety-stock penalty it is what the optimal plan minimises, "
            "so a plan may save cash by running below safety stock. Per family: "
            f"<code>sop.scenario_comparison</code>.</p>{table}")


def _accuracy_section(accuracy: pl.DataFrame) -> str:
    if not _has(accuracy, "level", "series_key", "method", "wape"):
        return _not_available("Forecast accuracy (backtest)")
    notes = _history_notes(accuracy)
    rows = accuracy.filter(pl.col("level").is_in(["family", "total"]) & pl.col("method").is_in(
        ["chosen", "seasonal_naive"]))
    if rows.height == 0:
        return _not_available("Forecast accuracy (backtest)") + notes
    wide = (rows.with_columns((pl.col("wape") * 100).alias("wape_pct"))
            .pivot(on="method", index=["level", "series_key"], values="wape_pct", aggregate_function="first"))
    wide = wide.rename({"series_key": "series", "chosen": "forecast WAPE %",
                        "seasonal_naive": "seasonal naive WAPE %"}, strict=False)
    order = ["series", *[c for c in ("forecast WAPE %", "seasonal naive WAPE %") if c in wide.columns]]
    wide = wide.sort(pl.col("level") != "total", "series").select(order)
    return _table(wide, digits={"forecast WAPE %": 1, "seasonal naive WAPE %": 1}) + notes


def _plan_over_plan_section(changes: pl.DataFrame) -> str:
    if not _has(changes, "family", "previous_cycle"):
        return _not_available("Comparison with the previous published plan")
    previous = changes["previous_cycle"].drop_nulls()
    measures = [m for m in ("planned_units", "production", "ending_inventory", "total_cost") if m in changes.columns]
    common = changes.filter(pl.col(f"previous_{measures[0]}").is_not_null() & pl.col(measures[0]).is_not_null())
    def total(column: str) -> pl.Expr:
        # NULL rather than 0 when a plan has no such figure (e.g. no production plan published then).
        return pl.when(pl.col(column).count() > 0).then(pl.col(column).sum())

    shown = [m for m in ("planned_units", "total_cost") if m in measures]
    by_family = common.group_by("family").agg(
        *(total(m).alias(f"{m} (now)") for m in shown), *(total(f"previous_{m}").alias(f"{m} (before)") for m in shown))
    for m in ("planned_units", "total_cost"):
        if f"{m} (now)" in by_family.columns:
            by_family = by_family.with_columns((pl.col(f"{m} (now)") - pl.col(f"{m} (before)")).alias(f"{m} change"))
    ordered = ["family", *[c for m in ("planned_units", "total_cost")
                           for c in (f"{m} (before)", f"{m} (now)", f"{m} change") if c in by_family.columns]]
    since = previous[0].strftime("%Y-%m") if previous.len() else "—"
    return (f"<p>Months both plans cover, against the plan published for cycle {since} "
            f"(query <code>sop.plan_over_plan</code> for every month and measure).</p>"
            + _table(by_family.select(ordered).sort("family")))


# ----------------------------------------------------------------------------------------------
# Alignment: decisions needed, gap to budget, capacity by work centre

DECISIONS_SHOWN = 10
KIND_WORDS = {"capacity_over": "work centre near or at capacity", "below_safety_stock": "below safety stock",
              "units_short": "orders late", "plan_change": "plan changed since last cycle",
              "forecast_bias": "biased forecast", "budget_gap": "off budget"}


def _decision_text(row: dict) -> str:
    """'open', or what was decided, by whom (and the note)."""
    decision = row.get("decision")
    if not decision:
        return '<span class="open">open</span>'
    text = decision + (f" with scenario {row['decision_scenario']}" if row.get("decision_scenario") else "")
    note = f": {row['decision_note']}" if row.get("decision_note") else ""
    return (f'<span class="decided {html.escape(decision)}">{html.escape(text)}</span><br>'
            f'<small>{html.escape(str(row.get("decided_by") or ""))}{html.escape(note)}</small>')


ADOPTION_CHANGES = {"planned_revenue_change": "revenue", "total_cost_change": "total cost",
                    "gross_margin_change": "gross margin", "units_short_change": "units short"}


def _adoption_changes(comparison: pl.DataFrame, scenario: str) -> str:
    """What an adopted scenario changed against the base plan, over the horizon, all families."""
    if not _has(comparison, "scenario", "family", *ADOPTION_CHANGES):
        return ""
    row = comparison.filter((pl.col("scenario") == scenario) & (pl.col("family") == ALL_FAMILIES))
    if row.height == 0:
        return ""
    values = row.row(0, named=True)
    parts = [f"{label} {values[c]:+,.0f}" for c, label in ADOPTION_CHANGES.items() if values.get(c) is not None]
    return f" Against the base plan it changes {', '.join(parts)} over the horizon." if parts else ""


def _plan_decisions(log: pl.DataFrame, plan_runs: pl.DataFrame, comparison: pl.DataFrame | None = None) -> str:
    """The version shown and the decisions on the plan and its scenarios (approved, adopted, rejected)."""
    parts = []
    if _has(plan_runs, "version", "status"):
        run = plan_runs.row(0, named=True)
        if run.get("version") is not None:
            scenario = run.get("adopted_scenario")
            adopted = (f"; it is scenario {scenario}, adopted.{_adoption_changes(comparison, scenario)}"
                       if scenario and comparison is not None else ".")
            parts.append(f"This report shows version {run['version']} of the plan ({run['status']}){adopted}")
    if _has(log, "decision", "subject_kind"):
        for row in log.filter(pl.col("subject_kind").is_null() | (pl.col("subject_kind") == "scenario")).iter_rows(named=True):
            subject = f"scenario {row['subject']} " if row.get("subject_kind") == "scenario" else f"version {row['version']} "
            note = f" ({row['note']})" if row.get("note") else ""
            parts.append(f"{subject}{row['decision']} by {row['decided_by']} on {row['decided_at']:%Y-%m-%d}{note}.")
    return "".join(f"<p class=note>{html.escape(p[0].upper() + p[1:])}</p>" for p in parts)


def _decisions_section(exceptions: pl.DataFrame, decided: pl.DataFrame | None = None) -> str:
    """The exceptions ranked by money at stake, the largest first: what the meeting must decide, with what it
    decided (`decided`: sop.exceptions numbered with their latest decision, store/decisions.py)."""
    if decided is not None and _has(decided, "number", "severity"):
        exceptions = decided
    if "severity" not in exceptions.columns:
        return _not_available("Exceptions")
    if exceptions.height == 0:
        return "<p>No exceptions this cycle: nothing needs a decision beyond approving the plan.</p>"
    if "number" not in exceptions.columns:
        exceptions = (exceptions.sort("money_at_stake", descending=True, nulls_last=True)
                      .with_row_index("number", offset=1))
    with_decisions = "decision" in exceptions.columns
    counts = {s: exceptions.filter(pl.col("severity") == s).height for s in ("high", "medium", "low")}
    # Every high-severity exception, then the others with the most money at stake, ranked by money.
    ranked = exceptions.sort("number")
    high = ranked.filter(pl.col("severity") == "high")
    others = ranked.filter(pl.col("severity") != "high").head(max(DECISIONS_SHOWN - high.height, 0))
    shown = pl.concat([high, others], how="vertical_relaxed").sort("number")
    rows = []
    for row in shown.iter_rows(named=True):
        where = " · ".join(str(v) for v in (row.get("resource"), row.get("family"), row.get("sku")) if v)
        month = row["month"].strftime("%Y-%m") if row.get("month") else "horizon"
        carried = (f"<br><small>open since {row['carried_from']:%Y-%m}</small>" if row.get("carried_from") else "")
        decision = f"<td>{_decision_text(row)}</td>" if with_decisions else ""
        rows.append(f'<tr><td class="n">{row["number"]}</td><td><span class="sev {html.escape(row["severity"])}">'
                    f'{html.escape(row["severity"])}</span></td>'
                    f'<td>{html.escape(KIND_WORDS.get(row["kind"], row["kind"]))}<br><small>{html.escape(where)}, '
                    f'{month}</small>{carried}</td><td class="n">{_num(row["money_at_stake"])}</td>'
                    f'<td>{html.escape(row["message"])}</td>{decision}</tr>')
    more = exceptions.height - shown.height
    summary = (f"{exceptions.height} exception(s): {counts['high']} high, {counts['medium']} medium, "
               f"{counts['low']} low severity. Every high one and the others with the most money at stake"
               f"{f'; {more} more in' if more else ', all in'} <code>sop.exceptions</code>.")
    if with_decisions:
        decided_n = exceptions.filter(pl.col("decision").is_not_null() & (pl.col("decision") != "deferred")).height
        deferred = exceptions.filter(pl.col("decision") == "deferred").height
        summary += (f" <b>{decided_n} decided, {deferred} deferred, {exceptions.height - decided_n - deferred} open</b> "
                    f"(<code>sop-pipeline decide --exception N</code>).")
    head = "<th>decision</th>" if with_decisions else ""
    return (f"<p>{summary}</p><div class='scroll'><table class='decisions'><thead><tr><th>#</th><th>severity</th>"
            f"<th>what</th><th>money at stake</th><th>decision needed</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _budget_measure(gap: pl.DataFrame) -> str | None:
    """'revenue' where the budget gives revenue, else 'units'; None without a budget."""
    if not _has(gap, "family", "month", "budget_units", "budget_revenue"):
        return None
    total = gap.filter(pl.col("family") == ALL_FAMILIES)
    if total["budget_revenue"].null_count() < total.height and total["revenue_gap"].null_count() < total.height:
        return "revenue"
    return "units" if total["budget_units"].null_count() < total.height else None


def _budget_card(gap: pl.DataFrame) -> tuple[str, str, str] | None:
    measure = _budget_measure(gap)
    if measure is None:
        return None
    total = gap.filter(pl.col("family") == ALL_FAMILIES).sort("month")
    budget, diff = total[f"budget_{measure}"].sum(), total[f"{measure}_gap"].sum()
    span = f"{total['month'].min():%Y-%m} to {total['month'].max():%Y-%m}"
    share = f"{100 * diff / budget:+.1f}% " if budget else ""
    return ("Gap to budget", f"{diff:+,.0f}", f"{share}{measure} vs budget, {span}")


def _budget_section(gap: pl.DataFrame) -> str:
    measure = _budget_measure(gap)
    if measure is None:
        return _not_available("Gap to budget (no budget: set budget: in sop.yaml)")
    total = gap.filter(pl.col("family") == ALL_FAMILIES).sort("month")
    months = _months(total)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.1,
                           subplot_titles=[f"{measure}: plan against budget, all families",
                                           f"cumulative {measure} gap (plan - budget)"])
    figure.add_trace(go.Bar(x=months, y=total[f"budget_{measure}"].to_list(), name="budget",
                            marker_color="#90a4ae"), row=1, col=1)
    figure.add_trace(go.Bar(x=months, y=total[f"planned_{measure}"].to_list(), name="plan",
                            marker_color=COLOURS["plan"]), row=1, col=1)
    cumulative = total[f"{measure}_gap"].cum_sum().to_list()
    figure.add_trace(go.Scatter(x=months, y=cumulative, name="cumulative gap", fill="tozeroy",
                                line={"color": COLOURS["safety"] if cumulative and cumulative[-1] < 0
                                      else COLOURS["regular"], "width": 2}), row=2, col=1)
    figure.update_layout(height=520, barmode="group")
    by_family = (gap.filter(pl.col("family") != ALL_FAMILIES).group_by("family")
                 .agg(pl.col(f"budget_{measure}", f"planned_{measure}", f"{measure}_gap").sum())
                 .with_columns((100 * pl.col(f"{measure}_gap") / pl.col(f"budget_{measure}")).alias("gap %"))
                 .sort(f"{measure}_gap"))
    table = _table(by_family, digits={"gap %": 1})
    return f'<div class="two"><div>{_figure_html(figure)}</div><div>{table}</div></div>'


def _capacity_section(capacity: pl.DataFrame) -> str:
    if not _has(capacity, "resource", "family", "month", "utilization"):
        return _not_available("Capacity by work centre")
    total = capacity.filter((pl.col("family") == ALL_FAMILIES) & pl.col("hours_available").is_not_null())
    if total.height == 0:
        return "<p>No work centre has a limit (planning.resources, planning.shared_capacity).</p>"
    figure = go.Figure()
    resources = total["resource"].unique(maintain_order=True).to_list()
    for n, resource in enumerate(resources):
        rows = total.filter(pl.col("resource") == resource).sort("month")
        colour = PART_COLOURS[n % len(PART_COLOURS)]
        figure.add_trace(go.Scatter(x=_months(rows), y=(100 * rows["utilization"]).to_list(), name=f"{resource}: plan",
                                    line={"color": colour, "width": 2.4}, legendgroup=resource))
        figure.add_trace(go.Scatter(x=_months(rows), y=(100 * rows["unconstrained_utilization"]).to_list(),
                                    name=f"{resource}: demand plan would need", legendgroup=resource,
                                    line={"color": colour, "width": 1.4, "dash": "dot"}))
    figure.add_hline(y=100, line={"color": COLOURS["safety"], "width": 1, "dash": "dash"})
    figure.update_layout(height=420, yaxis_title="% of hours available", yaxis_rangemode="tozero")
    peaks = (total.sort("utilization", descending=True, nulls_last=True).group_by("resource", maintain_order=True)
             .first().with_columns(peak_month=pl.col("month").dt.strftime("%Y-%m"),
                                   utilization=100 * pl.col("utilization"))
             .select("resource", "peak_month", "hours_available", "hours_required", "hours_unconstrained",
                     "utilization").rename({"hours_unconstrained": "demand plan needs", "utilization": "peak %"}))
    return f'<div class="two"><div>{_figure_html(figure)}</div><div>{_table(peaks, digits={"peak %": 1})}</div></div>'


def _key_figures(cycle: date, frames: dict[str, pl.DataFrame], chosen: pl.DataFrame) -> list[tuple[str, str, str]]:
    """(label, value, note) for the cards at the top."""
    plan, comparison, accuracy = frames["demand_plan"], frames["strategy_comparison"], frames["forecast_accuracy"]
    cards = [("Plan cycle", cycle.strftime("%Y-%m"), "")]
    if _has(plan, "planned_units", "month"):
        span = f"{plan['month'].min():%Y-%m} to {plan['month'].max():%Y-%m}"
        cards.append(("Planned units", _headline(plan["planned_units"].sum()), span))
        # Sales without revenue (sales.columns.revenue: null) plan zero revenue: no figure, rather than 0.
        priced = "planned_revenue" in plan.columns and bool(plan["planned_revenue"].fill_null(0).abs().sum())
        cards.append(("Planned revenue", _headline(plan["planned_revenue"].sum()) if priced else "not available",
                      span if priced else "no revenue in the sales history"))
    else:
        cards += [("Planned units", "not available", ""), ("Planned revenue", "not available", "")]
    if _has(comparison, "chosen", "total_cost", "strategy"):
        picked = comparison.filter(pl.col("chosen"))
        counts = picked.group_by("strategy").len().sort(["len", "strategy"], descending=[True, False])
        strategy = " / ".join(counts["strategy"].to_list()) or "—"
        cards.append(("Total cost", _headline(picked["total_cost"].sum()), "chosen plans, whole horizon"))
        cards.append(("Chosen strategy", strategy, f"{picked.height} families"))
        if "units_short" in picked.columns and (picked["units_short"].fill_null(0) > 0).any():
            cards.append(("Units short", _headline(picked["units_short"].sum()), "demand the plan cannot meet"))
    elif _has(chosen, "total_cost"):
        cards.append(("Total cost", _headline(chosen["total_cost"].sum()), "whole horizon"))
    else:
        cards += [("Total cost", "not available", ""), ("Chosen strategy", "not available", "")]
    operating = frames["operating_plan"]
    if _has(operating, "family", "gross_margin", "planned_revenue"):
        everything = operating.filter(pl.col("family") == ALL_FAMILIES)
        margin, revenue = everything["gross_margin"].sum(), everything["planned_revenue"].sum()
        if revenue:
            cards.append(("Gross margin", _headline(margin), f"{_pct(margin / revenue)} of revenue"))
        else:
            cards.append(("Gross margin", "not available", "no revenue in the sales history"))
    total = accuracy.filter(pl.col("level") == "total") if _has(accuracy, "level", "method", "wape") else None
    if total is not None and total.height and "chosen" not in total["method"].to_list():
        cards.append(("Forecast WAPE", "not backtested", "too little history (see Forecast accuracy)"))
    elif total is not None and total.height:
        wape = {r["method"]: r["wape"] for r in total.iter_rows(named=True)}
        note = f"seasonal naive {_pct(wape.get('seasonal_naive'))}"
        # The total's WAPE: the console's "family level" figure pools the families' errors, which do not
        # cancel, so it is higher; say which this is.
        cards.append(("Forecast WAPE", _pct(wape.get("chosen")), note + " (backtest of the total over all families)"))
    else:
        cards.append(("Forecast WAPE", "not available", ""))
    return cards


CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --brand:#0b3c5d; --accent:#1565c0; }
* { box-sizing:border-box; }
body { margin:0; font-family:"Segoe UI",Helvetica,Arial,sans-serif; color:var(--ink); background:#f5f7fa; }
header { background:var(--brand); color:#fff; padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:600; }
header p { margin:0; color:#c8d6e5; font-size:14px; }
main { max-width:1320px; margin:0 auto; padding:24px 40px 60px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:14px; margin:0 0 28px; }
.card { background:#fff; border:1px solid var(--line); border-top:4px solid var(--accent); border-radius:6px;
        padding:14px 16px; }
.card .label { font-size:12px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); }
.card .value { font-size:24px; font-weight:600; margin-top:6px; overflow-wrap:anywhere; }
.card .note { font-size:12px; color:var(--muted); margin-top:4px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:18px 22px; margin:0 0 22px; }
section h2 { margin:0 0 4px; font-size:18px; color:var(--brand); }
section p { font-size:13px; }
section > p.lead { margin:0 0 10px; color:var(--muted); }
table { border-collapse:collapse; width:auto; min-width:50%; font-size:13px; margin-top:8px; }
th { text-align:left; background:#f0f4f8; color:var(--muted); font-weight:600; padding:7px 10px;
     border-bottom:2px solid var(--line); text-transform:capitalize; }
td { padding:6px 10px; border-bottom:1px solid var(--line); }
td.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.text { min-width:14em; max-width:30em; white-space:normal; }
.scroll { max-width:100%; overflow-x:auto; }
.scroll > table { margin-top:8px; }
section, .two > div { min-width:0; }
.decided { font-weight:600; color:#2e7d32; } .decided.deferred { color:#ef6c00; } .open { font-weight:600; color:#c62828; }
tr.chosen td { font-weight:600; }
.two { display:grid; grid-template-columns:3fr 2fr; gap:20px; align-items:start; }
.na { color:var(--muted); font-style:italic; background:#f8f9fb; border:1px dashed var(--line);
      padding:12px; border-radius:4px; }
.notice { background:#fff8e1; border:1px solid #ffe082; border-radius:6px; padding:12px 16px; font-size:14px; }
ul.notes { font-size:13px; color:var(--muted); margin:10px 0 0; padding-left:20px; }
section.decisions { border-top:4px solid #c62828; }
table.decisions td { vertical-align:top; }
table.decisions small { color:var(--muted); }
.sev { display:inline-block; padding:2px 8px; border-radius:10px; font-size:11px; font-weight:600; color:#fff; }
.sev.high { background:#c62828; } .sev.medium { background:#ef6c00; } .sev.low { background:#78909c; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:10px; }
"""


def _supply_skipped(plan_runs: pl.DataFrame) -> str:
    """A notice where the run published no supply plan (no planning section in the settings)."""
    if not _has(plan_runs, "supply_status") or plan_runs["supply_status"][0] != "skipped":
        return ""
    note = plan_runs["supply_note"][0] if "supply_note" in plan_runs.columns else None
    return (f'<p class="notice">Supply planning was skipped for this cycle: {html.escape(note or "no reason recorded")}.'
            " The forecast and the demand plan are published; production, inventory, headcount and cost are not.</p>")


def render_report(cycle: date, demand_history=None, forecast=None, forecast_accuracy=None, demand_plan=None,
                  production_plan=None, strategy_comparison=None, operating_plan=None,
                  plan_over_plan=None, scenario_comparison=None, generated_at: datetime | None = None,
                  plan_runs=None, budget_gap=None, capacity_plan=None, exceptions=None,
                  exception_decisions=None, decisions=None,
                  kpi_history=None, forecast_value_added=None) -> str:
    """The report as one HTML document.

    Frames (Polars or pandas; None or empty where a stage has not run) have the columns of the
    published tables (sql/create_tables.sql) without plan_cycle; `plan_over_plan` has the columns of
    the `sop.plan_over_plan` view for this cycle.
    """
    frames = {name: _frame(value) for name, value in {
        "demand_history": demand_history, "forecast": forecast, "forecast_accuracy": forecast_accuracy,
        "demand_plan": demand_plan, "production_plan": production_plan,
        "strategy_comparison": strategy_comparison, "operating_plan": operating_plan, "plan_over_plan": plan_over_plan,
        "plan_runs": plan_runs, "scenario_comparison": scenario_comparison,
        "budget_gap": budget_gap, "capacity_plan": capacity_plan, "exceptions": exceptions,
        "exception_decisions": exception_decisions, "decisions": decisions}.items()}
    chosen = _chosen_production(frames["production_plan"], frames["strategy_comparison"])
    families, n_families = _panel_families(frames)
    shown = (f"The {len(families)} largest of {n_families} families by planned volume."
             if n_families > len(families) else f"{n_families} product families.")
    cards = "".join(f'<div class="card"><div class="label">{html.escape(label)}</div>'
                    f'<div class="value">{html.escape(value)}</div><div class="note">{html.escape(note)}</div></div>'
                    for label, value, note in [*_key_figures(cycle, frames, chosen),
                                               *filter(None, [_budget_card(frames["budget_gap"])])])
    sections = [
        ("Demand: history, forecast and demand plan",
         f"Monthly units sold, the statistical forecast with its prediction band, and the demand plan "
         f"(forecast + new products + consensus adjustments). {shown}", _demand_section(frames, families)),
        ("Production against demand",
         "Units made on regular time, overtime and by subcontractors in each family's chosen plan.",
         _production_section(chosen, families)),
        ("Inventory against safety stock",
         "Ending inventory of the chosen plan against the safety stock the service level requires; "
         "red bars are backlog (orders late).", _inventory_section(chosen, families)),
        ("Headcount", "Workers in the chosen plans, stacked by family, with hires and layoffs.",
         _headcount_section(chosen)),
        ("Gap to budget",
         "The plan against the budget (annual operating plan) over the months the budget covers; the table sums "
         "each family's gap.", _budget_section(frames["budget_gap"])),
        ("Capacity by work centre",
         "Hours the chosen plan uses of each work centre, as a share of the hours available (solid), and what the "
         "demand plan alone would need (dotted): above 100% the plan builds ahead, subcontracts or delays.",
         _capacity_section(frames["capacity_plan"])),
        ("Level, chase and optimal: cost comparison",
         "Total cost of each strategy over the horizon; the chosen strategy per family is in the table.",
         _cost_section(frames["strategy_comparison"])),
        ("Scenarios: what if",
         "The published plan beside each scenario of sop.yaml (and each saved what-if): cost, margin, service and "
         "capacity.", _scenario_section(frames["scenario_comparison"])),
        ("Forecast accuracy",
         "Backtest WAPE of the published forecast against the seasonal-naive baseline (same month last year).",
         _accuracy_section(frames["forecast_accuracy"])),
        ("Change since the previous plan", "", _plan_over_plan_section(frames["plan_over_plan"])),
        ("Track record", track_record.LEAD, track_record.track_record_section(
            _frame(kpi_history), _frame(forecast_value_added), _figure_html, _table)),
    ]
    body = "".join(f'<section><h2>{html.escape(title)}</h2>'
                   f'{f"<p class=lead>{html.escape(lead)}</p>" if lead else ""}{content}</section>'
                   for title, lead, content in sections)
    decisions = ('<section class="decisions"><h2>Decisions needed</h2><p class=lead>What this plan asks the '
                 'meeting to decide, the most money at stake first (thresholds: alerts: in sop.yaml).</p>'
                 f'{_plan_decisions(frames["decisions"], frames["plan_runs"], frames["scenario_comparison"])}'
                 f'{_decisions_section(frames["exceptions"], frames["exception_decisions"])}</section>')
    stamp = (generated_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    title = f"S&OP executive report — plan cycle {cycle:%Y-%m}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head><body>
<header><h1>{html.escape(title)}</h1><p>Sales &amp; Operations Planning · generated {stamp} by sop-pipeline</p></header>
<main>{_supply_skipped(frames["plan_runs"])}{decisions}<div class="cards">{cards}</div>{body}</main>
<footer>Figures from the published tables <code>sop.*</code> of plan cycle {cycle:%Y-%m}.</footer>
</body></html>
"""


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1400, height: int = 2400,
               chromium: str | None = None, timeout_s: float = 120) -> Path:
    """A PNG of the rendered report, taken by headless Chromium (to check it renders, or for slides).

    The virtual-time budget lets plotly.js finish drawing before the picture is taken; the private
    profile folder and the disabled background services keep the browser off the network.
    """
    browser = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SopError(what="Chromium is not installed, so the report cannot be screenshotted",
                       where="PATH", fix="install it (Debian: apt-get install chromium) or open the HTML file "
                                         "in any browser")
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sop-chromium-") as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png_path}",
                   f"--window-size={width},{height}", "--virtual-time-budget=10000", html_path.as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0 or not png_path.exists():
        raise SopError(what=f"Chromium could not screenshot the report (exit {done.returncode})",
                       where=str(html_path), fix="read Chromium's message: " + done.stderr.strip()[-500:])
    return png_path
