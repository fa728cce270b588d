"""The executive report: content from published-table frames, self-contained HTML, rendering in Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, datetime

import polars as pl
import pytest

from sop_pipeline.report.html import COLOURS, render_report
from tests.support.files import PROJECT_ROOT, require_chromium
from tests.support.report_frames import CYCLE, FAMILIES, report_frames


@pytest.fixture(scope="module")
def frames():
    return report_frames()


@pytest.fixture(scope="module")
def report(frames) -> str:
    return render_report(CYCLE, **frames)


def card(html: str, label: str) -> str:
    match = re.search(rf'<div class="label">{re.escape(label)}</div><div class="value">([^<]*)</div>', html)
    assert match, f"no key-figure card {label!r}"
    return match.group(1)


def test_key_figures_add_up_the_published_rows(report, frames):
    plan = frames["demand_plan"]
    assert card(report, "Plan cycle") == "2026-11"
    assert card(report, "Planned units") == f"{plan['planned_units'].sum():,.0f}"
    assert card(report, "Planned revenue") == f"{plan['planned_revenue'].sum():,.0f}"
    # Total cost is the chosen (optimal) plans' cost: 27,000 for each of the two families.
    assert card(report, "Total cost") == "54,000"
    assert card(report, "Chosen strategy") == "optimal"
    assert card(report, "Forecast WAPE") == "7.0%" and "seasonal naive 12.0%" in report
    # Gross margin from the all-families rows only: 6 months x 200 of 6 x 800 revenue.
    assert card(report, "Gross margin") == "1,200" and "25.0% of revenue" in report


def test_report_is_self_contained(report):
    # plotly.js is inlined once; nothing is fetched from a network when the file is opened.
    assert report.count("plotly.js v") >= 1 and report.count('<script type="text/javascript">/**') <= 1
    assert not re.search(r'<script[^>]+src=', report)
    assert not re.search(r'<link[^>]+href="https?://', report)
    assert len(report) < 8_000_000
    for family in FAMILIES:
        assert family in report
    for section in ("Demand: history", "Production against demand", "Inventory against safety stock",
                    "Headcount", "cost comparison", "Forecast accuracy"):
        assert section in report


def test_empty_stages_say_not_available(frames):
    # Only the forecast stage has run: its chart is drawn, every later stage is reported missing.
    html = render_report(CYCLE, demand_history=frames["demand_history"], forecast=frames["forecast"],
                         production_plan=pl.DataFrame(), strategy_comparison=None)
    assert "Production plan: not available" in html
    assert "Strategy cost comparison: not available" in html
    assert card(html, "Total cost") == "not available"
    assert "statistical forecast" in html
    nothing = render_report(CYCLE)
    assert nothing.count("not available") >= 8 and card(nothing, "Plan cycle") == "2026-11"


def test_pandas_frames_are_accepted(frames):
    html = render_report(CYCLE, **{k: v.to_pandas() for k, v in frames.items()})
    assert card(html, "Total cost") == "54,000"


def test_chosen_strategy_mix_is_named(frames):
    comparison = frames["strategy_comparison"].with_columns(
        chosen=pl.when(pl.col("family") == FAMILIES[0]).then(pl.col("strategy") == "level")
        .otherwise(pl.col("strategy") == "optimal"))
    html = render_report(CYCLE, **{**frames, "strategy_comparison": comparison})
    assert card(html, "Total cost") == "57,000"
    assert card(html, "Chosen strategy") in ("level / optimal", "optimal / level")


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path):
    require_chromium()
    from PIL import Image

    html_path = tmp_path / "sop_report_2026-11.html"
    html_path.write_text(report, encoding="utf-8")
    png = tmp_path / "report.png"
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "screenshot_report.py"),
                           str(html_path), str(png)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 2400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    counts = {rgb: n for n, rgb in colours}

    def pixels(hex_colour: str) -> int:
        return counts.get(tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)), 0)

    # The header band is drawn by CSS; the green regular-time bars only by plotly.js, so seeing them
    # proves the inlined script ran without a network.
    assert pixels("#0b3c5d") > 10_000
    assert pixels(COLOURS["regular"]) > 5_000


def test_executive_report_asset_writes_next_to_database(tmp_path, frames):
    import dagster as dg

    from sop_pipeline.defs.report.assets import executive_report
    from sop_pipeline.defs.resources import PlanDatabase
    from sop_pipeline.store import db

    db_path = tmp_path / "plans" / "sop.duckdb"
    conn = db.connect(db_path)
    db.ensure_schema(conn)
    for table, frame in frames.items():
        db.replace_cycle(conn, table, CYCLE, frame, schema="sop")
    # The previous cycle planned half the units; its costs must not leak into this cycle's figures.
    october = date(2026, 10, 1)
    db.replace_cycle(conn, "strategy_comparison", october,
                     frames["strategy_comparison"].with_columns(total_cost=pl.lit(1e9)), schema="sop")
    db.replace_cycle(conn, "demand_plan", october,
                     frames["demand_plan"].with_columns(pl.col("planned_units") / 2), schema="sop")
    for cycle in (october, CYCLE):
        db.replace_cycle(conn, "plan_runs", cycle, pl.DataFrame({"run_id": ["r"], "created_at": [datetime.now()]}),
                         schema="sop")
    conn.close()

    result = dg.materialize([executive_report], resources={"database": PlanDatabase(database=str(db_path))},
                            partition_key=CYCLE.isoformat())
    assert result.success
    path = tmp_path / "plans" / "reports" / "sop_report_2026-11.html"
    html = path.read_text(encoding="utf-8")
    assert card(html, "Total cost") == "54,000"
    metadata = result.asset_materializations_for_node("sop__executive_report")[0].metadata
    assert metadata["path"].value == str(path)
    assert metadata["url"].value == path.as_uri()
    assert "sop.operating_plan" not in metadata["tables_without_rows"].value
    assert "sop.demand_history" not in metadata["tables_without_rows"].value
    # Plan over plan: each family's planned units doubled since the October plan.
    assert "against the plan published for cycle 2026-10" in html
    cookware = frames["demand_plan"].filter(pl.col("family") == "Cookware")["planned_units"].sum()
    row = re.search(r"<tr><td>Cookware</td>(.*?)</tr>", html.split("Change since the previous plan")[1]).group(1)
    assert re.findall(r'<td class="n">([^<]*)</td>', row)[:3] == [f"{v:,.0f}" for v in
                                                                   (cookware / 2, cookware, cookware / 2)]
    # October published no production plan: its cost is unknown, not zero.
    assert re.findall(r'<td class="n">([^<]*)</td>', row)[3] == "—"

    # Nothing published for a cycle: the report still renders and says so.
    empty = dg.materialize([executive_report], resources={"database": PlanDatabase(database=str(db_path))},
                           partition_key="2026-09-01")
    assert empty.success
    assert "Production plan: not available" in (path.parent / "sop_report_2026-09.html").read_text()


def test_a_cycle_without_supply_planning_or_backtest_says_why(frames):
    """No planning section and too little history: the report says supply planning was skipped and why, that the
    forecast was not backtested, and shows no revenue or margin where the sales had no revenue."""
    accuracy = pl.DataFrame({"level": ["total", "family"], "series_key": ["total", "Cookware"],
                             "family": [None, "Cookware"], "method": ["not_backtested"] * 2, "wape": [None, None],
                             "note": ["12 month(s) of history: not backtested (...)"] * 2},
                            schema_overrides={"wape": pl.Float64})
    runs = pl.DataFrame({"supply_status": ["skipped"], "supply_note": ["the settings have no planning section"]})
    plan = frames["demand_plan"].with_columns(pl.lit(0.0).alias("planned_revenue"))
    html = render_report(CYCLE, demand_history=frames["demand_history"], forecast=frames["forecast"],
                         forecast_accuracy=accuracy, demand_plan=plan, plan_runs=runs)
    assert "Supply planning was skipped for this cycle: the settings have no planning section" in html
    assert card(html, "Forecast WAPE") == "not backtested"
    assert "Cookware, total: 12 month(s) of history: not backtested" in html
    assert card(html, "Planned revenue") == "not available"
    assert "Supply planning was skipped" not in render_report(CYCLE, **frames)


def test_key_figures_of_ten_digits_and_more_read_in_billions(frames):
    # Walmart's sales as units: a cost of 71,806,144,550 overran its card.
    big = {name: frame.with_columns([pl.col(c) * 1e7 for c in ("total_cost", "planned_units", "planned_revenue")
                                     if c in frame.columns])
           if isinstance(frame, pl.DataFrame) else frame for name, frame in frames.items()}
    html = render_report(CYCLE, **big)
    assert card(html, "Total cost") == f"{54_000 * 1e7 / 1e9:,.1f} bn"  # 540.0 bn
    plan = frames["demand_plan"]
    assert card(html, "Planned units") == f"{plan['planned_units'].sum() * 1e7 / 1e9:,.1f} bn"
    assert card(render_report(CYCLE, **frames), "Total cost") == "54,000"  # below a billion: every digit
