"""The report's Track record section: drawn from the views, with the staircase's figures; a hint when empty."""

from __future__ import annotations

from datetime import date

from sop_pipeline.report import html as report
from sop_pipeline.report import track_record
from sop_pipeline.store import db
from tests.support.track_record_cases import PLANS
from tests.support.track_record_cases import insert_cycles as _insert


def test_track_record_section_shows_the_value_added_of_the_built_case(tmp_path):
    conn = db.connect(tmp_path / "plan.duckdb")
    db.ensure_schema(conn)
    _insert(conn, PLANS)
    frames = track_record.read_track_record(conn, date(2025, 4, 1))
    all_lag1 = db.query_pl(conn, "SELECT * FROM sop.forecast_value_added WHERE family = 'ALL FAMILIES' "
                                 "AND lag = '1'").row(0, named=True)
    conn.close()
    text = report.render_report(date(2025, 4, 1), **frames)
    section = text[text.index("<h2>Track record</h2>"):]
    assert section.count('class="plotly-graph-div"') == 3  # accuracy by lag, the staircase, KPIs per cycle
    # The staircase's labels are the view's numbers.
    assert f"{all_lag1['naive_wape']:.1%}" in section and f"{all_lag1['consensus_value_added']:+.1%}" in section
    assert "Value added by family" in section and "Anvils" in section and "Brooms" in section
    assert frames["kpi_history"].height == 4


def test_track_record_section_without_actuals_says_how_to_get_one(tmp_path):
    conn = db.connect(tmp_path / "plan.duckdb")
    db.ensure_schema(conn)
    frames = track_record.read_track_record(conn, date(2025, 4, 1))
    conn.close()
    text = report.render_report(date(2025, 4, 1), **frames)
    assert "sop-pipeline backfill" in text[text.index("<h2>Track record</h2>"):]


def test_kpi_panels_name_their_lines_and_a_flat_rate_reads_from_zero():
    import polars as pl

    kpis = pl.DataFrame({
        "plan_cycle": [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)],
        "run_kind": ["backfill", "backfill", "run"],
        "wape_lag1": [0.2, 0.25, None], "statistical_wape_lag1": [0.22, 0.24, None],
        "naive_wape_lag1": [0.3, 0.31, None], "fill_rate": [1.0, 1.0, 1.0]})
    figure = track_record._kpi_chart(kpis, lambda f: f)  # the figure itself, not its HTML
    labels = {a.text: (a.x, a.y) for a in figure.layout.annotations if a.text in ("consensus", "statistical", "naive")}
    # each line named at its last cycle with figures (2025-02: 2025-03 has no actuals yet)
    assert labels == {"consensus": ("2025-02", 0.25), "statistical": ("2025-02", 0.24), "naive": ("2025-02", 0.31)}
    fill = next(t for t in figure.data if t.name == "fill rate")
    axis = figure.layout[fill.yaxis.replace("y", "yaxis")]
    assert list(axis.range) == [0.0, 1.08]  # not Plotly's 0-200% around a constant
