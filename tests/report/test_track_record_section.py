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
