"""The SQL behind the plan_change and forecast_bias exceptions, on hand-made rows with hand-worked answers."""

from __future__ import annotations

import polars as pl
import pytest

from sop_pipeline.store import db
from tests.support.published_rows import AUG, DEC, JAN, NOV, OCT, SEP, demand_rows, insert, published


def test_plan_change_compares_the_draft_with_the_latest_published_cycle(conn):  # noqa: F811
    published(conn, AUG, OCT)
    insert(conn, "demand_plan", demand_rows(AUG, {NOV: (999, 999)}))
    insert(conn, "demand_plan", demand_rows(OCT, {OCT: (50, 50), NOV: (60, 40), DEC: (70, 30)}))
    draft = pl.DataFrame(demand_rows(NOV, {NOV: (80, 40), DEC: (50, 50), JAN: (90, 10)}))
    conn.register("_rows", draft)
    conn.execute("INSERT INTO draft.demand_plan BY NAME SELECT * FROM _rows")
    rows = db.query_pl(conn, db.sql_text("exceptions_plan_change"), {"plan_cycle": NOV}).to_dicts()
    # Months both cover from the cycle on: November and December (October is history, January is new).
    assert rows == [{"previous_cycle": OCT, "family": "A", "planned_units": 220.0,
                     "previous_planned_units": 200.0, "months": 2}]


def test_forecast_bias_reads_recent_cycles_first_months_against_actuals(conn):  # noqa: F811
    published(conn, AUG, SEP, OCT)
    # Actuals: the history of the cycle being planned (draft), as it stood then. Forecasts: family level, 10% and
    # 30% high at lags 0-2.
    history = pl.DataFrame([{"plan_cycle": NOV, "family": "A", "sku": "A1", "month": m, "units": 100.0,
                             "revenue": 0.0} for m in (AUG, SEP)])
    conn.register("_history", history)
    conn.execute("INSERT INTO draft.demand_history BY NAME SELECT * FROM _history")
    # A later published cycle (a live run, when November is backfilled after it) knows other actuals: unread.
    insert(conn, "demand_history", [{"plan_cycle": DEC, "family": "A", "sku": "A1", "month": m, "units": 1.0,
                                     "revenue": 0.0} for m in (AUG, SEP, OCT, NOV)])
    insert(conn, "forecast", [
        {"plan_cycle": c, "level": "family", "series_key": "A", "family": "A", "month": m, "method": "m",
         "yhat": y, "yhat_lower": y, "yhat_upper": y}
        for c, m, y in ((AUG, AUG, 110.0), (AUG, SEP, 130.0), (SEP, SEP, 130.0))])
    rows = db.query_pl(conn, db.sql_text("exceptions_forecast_bias"), {"plan_cycle": NOV, "months_back": 6})
    row = rows.row(0, named=True)
    assert (row["family"], row["first_cycle"], row["last_cycle"], row["n_months"]) == ("A", AUG, SEP, 3)
    assert row["bias"] == pytest.approx((10 + 30 + 30) / 300)
    # cycles older than the window do not count: two months back from November reaches September only
    recent = db.query_pl(conn, db.sql_text("exceptions_forecast_bias"), {"plan_cycle": NOV, "months_back": 2})
    assert recent.select("first_cycle", "n_months", "bias").rows() == [(SEP, 1, pytest.approx(0.3))]
