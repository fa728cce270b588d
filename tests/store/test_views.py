"""The meeting's SQL views (sql/view_*.sql) on hand-made published rows, with hand-worked answers."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from sop_pipeline.store import db
from tests.support.published_rows import AUG, DEC, JAN, NOV, OCT, SEP, demand_rows, insert, published


def production_rows(cycle: date, strategy: str, months: dict[date, tuple[float, float, float, float, float]],
                    family: str = "A") -> list[dict]:
    """months: regular, overtime, subcontract units, ending inventory, total cost."""
    return [{"plan_cycle": cycle, "family": family, "strategy": strategy, "month": m, "regular_units": r,
             "overtime_units": o, "subcontract_units": s, "ending_inventory": inv, "total_cost": cost}
            for m, (r, o, s, inv, cost) in months.items()]


def chosen(cycle: date, chosen_strategy: str, family: str = "A") -> list[dict]:
    return [{"plan_cycle": cycle, "family": family, "strategy": s, "chosen": s == chosen_strategy}
            for s in ("level", "optimal")]


def test_plan_over_plan_compares_with_latest_earlier_published_cycle(conn):
    published(conn, AUG, OCT, NOV)
    # A September plan that was never published (no plan_runs row) must not count as "previous".
    insert(conn, "demand_plan", demand_rows(SEP, {NOV: (999, 999)}))
    insert(conn, "demand_plan", demand_rows(OCT, {OCT: (50, 50), NOV: (60, 40), DEC: (70, 30)}))
    insert(conn, "demand_plan", demand_rows(NOV, {NOV: (80, 40), DEC: (50, 50), JAN: (90, 10)}))
    insert(conn, "production_plan", production_rows(OCT, "optimal", {
        OCT: (90, 10, 0, 200, 1000), NOV: (100, 0, 0, 200, 1100), DEC: (80, 0, 0, 180, 900)}))
    insert(conn, "production_plan", production_rows(OCT, "level", {
        OCT: (1, 1, 1, 1, 1), NOV: (1, 1, 1, 1, 1), DEC: (1, 1, 1, 1, 1)}))
    insert(conn, "production_plan", production_rows(NOV, "level", {
        NOV: (100, 0, 20, 250, 1320), DEC: (100, 0, 0, 250, 1000), JAN: (100, 0, 0, 250, 1000)}))
    insert(conn, "production_plan", production_rows(NOV, "optimal", {
        NOV: (2, 2, 2, 2, 2), DEC: (2, 2, 2, 2, 2), JAN: (2, 2, 2, 2, 2)}))
    insert(conn, "strategy_comparison", chosen(OCT, "optimal") + chosen(NOV, "level"))

    view = db.query_pl(conn, "SELECT * FROM sop.plan_over_plan WHERE plan_cycle = $c ORDER BY month", {"c": NOV})
    assert view["previous_cycle"].unique().to_list() == [OCT]
    # October's own month is history by November: only months from the cycle on are compared.
    assert view["month"].to_list() == [NOV, DEC, JAN]
    nov, dec, jan = view.iter_rows(named=True)
    assert (nov["planned_units"], nov["previous_planned_units"]) == (120, 100)
    assert nov["planned_units_change"] == 20 and nov["planned_units_pct_change"] == pytest.approx(20.0)
    # Production is regular + overtime + subcontract of each cycle's chosen strategy.
    assert (nov["production"], nov["previous_production"], nov["production_change"]) == (120, 100, 20)
    assert (nov["strategy"], nov["previous_strategy"]) == ("level", "optimal")
    assert nov["ending_inventory_pct_change"] == pytest.approx(25.0)
    assert (nov["total_cost_change"], nov["total_cost_pct_change"]) == (220, pytest.approx(20.0))
    assert dec["planned_units_change"] == 0 and dec["production_change"] == 20
    assert dec["total_cost_pct_change"] == pytest.approx(100 * 100 / 900)
    # January is new in the November plan: nothing to compare with.
    assert jan["planned_units"] == 100 and jan["previous_planned_units"] is None
    assert jan["planned_units_change"] is None

    # The October plan is compared with August's (published, but with no rows): all previous NULL.
    october = db.query_pl(conn, "SELECT * FROM sop.plan_over_plan WHERE plan_cycle = $c", {"c": OCT})
    assert october.height == 3 and october["previous_cycle"].unique().to_list() == [AUG]
    assert october["previous_planned_units"].null_count() == 3
    # The first published cycle has nothing before it.
    assert db.query_pl(conn, "SELECT * FROM sop.plan_over_plan WHERE plan_cycle = $c", {"c": AUG}).height == 0


def test_plan_over_plan_zero_previous_gives_null_pct(conn):
    published(conn, OCT, NOV)
    insert(conn, "demand_plan", demand_rows(OCT, {NOV: (0, 0)}) + demand_rows(NOV, {NOV: (5, 5)}))
    row = db.query_pl(conn, "SELECT * FROM sop.plan_over_plan").row(0, named=True)
    assert row["planned_units_change"] == 10 and row["planned_units_pct_change"] is None
    assert row["production"] is None  # no production stage published yet: still a row, not an error


def history_rows(cycle: date, units: dict[date, tuple[float, float]]) -> list[dict]:
    return [{"plan_cycle": cycle, "family": "A", "sku": f"A{i}", "month": m, "units": u, "revenue": 10 * u}
            for m, pair in units.items() for i, u in enumerate(pair)]


def forecast_rows(cycle: date, yhat: dict[date, float], level: str = "family") -> list[dict]:
    key = "A" if level == "family" else "A0"
    return [{"plan_cycle": cycle, "level": level, "series_key": key, "family": "A",
             "sku": None if level == "family" else key, "month": m, "method": "prophet_top_down",
             "yhat": y, "yhat_lower": y - 10, "yhat_upper": y + 10} for m, y in yhat.items()]


def test_forecast_accuracy_over_time_against_newest_actuals(conn):
    published(conn, SEP, OCT, NOV)
    actual = {date(2026, 6, 1): (40, 40), date(2026, 7, 1): (50, 50), AUG: (45, 55), SEP: (60, 60),
              OCT: (30, 70)}
    insert(conn, "demand_history", history_rows(NOV, actual))
    # An older cycle's history, stale by now: the view must take the newest cycle's actuals.
    insert(conn, "demand_history", history_rows(OCT, {SEP: (1, 1)}))
    insert(conn, "forecast", forecast_rows(SEP, {SEP: 110, OCT: 90, NOV: 500}))
    insert(conn, "forecast", forecast_rows(SEP, {SEP: 1, OCT: 1}, level="sku"))  # not family level
    insert(conn, "forecast", forecast_rows(date(2026, 5, 1), {date(2026, 6, 1): 100, date(2026, 7, 1): 100,
                                                               AUG: 100, SEP: 100, OCT: 100}))

    view = db.query_pl(conn, "SELECT * FROM sop.forecast_accuracy_over_time ORDER BY plan_cycle, lag_bucket_start")
    sep = view.filter(pl.col("plan_cycle") == SEP).row(0, named=True)
    # September: lags 0 and 1 have actuals (120, 100); November has none yet.
    assert (sep["lag_bucket"], sep["min_lag_months"], sep["max_lag_months"], sep["n_months"]) == ("0-2", 0, 1, 2)
    assert (sep["actual_units"], sep["forecast_units"]) == (220, 200)
    assert sep["abs_error"] == 10 + 10 and sep["wape"] == pytest.approx(20 / 220)
    assert sep["bias"] == pytest.approx(-20 / 220)

    may = view.filter(pl.col("plan_cycle") == date(2026, 5, 1))
    assert may["lag_bucket"].to_list() == ["0-2", "3-5"]
    early, late = may.iter_rows(named=True)
    # June and July are lags 1 and 2; August to October are lags 3 to 5.
    assert (early["min_lag_months"], early["max_lag_months"], early["actual_units"]) == (1, 2, 180)
    assert early["abs_error"] == 20 + 0 and early["wape"] == pytest.approx(20 / 180)
    assert (late["min_lag_months"], late["max_lag_months"], late["n_months"]) == (3, 5, 3)
    assert late["actual_units"] == 100 + 120 + 100 and late["abs_error"] == 0 + 20 + 0
    # Nothing for the newest cycle: its months have not happened yet.
    assert view.filter(pl.col("plan_cycle") == NOV).height == 0


def test_views_work_under_any_catalog_name(tmp_path):
    """Opened directly (catalog named after the file), the views still bind to schema sop."""
    import duckdb

    path = tmp_path / "plans.duckdb"
    conn = db.connect(path)
    db.ensure_schema(conn)
    published(conn, OCT, NOV)
    insert(conn, "demand_plan", demand_rows(OCT, {NOV: (1, 1)}) + demand_rows(NOV, {NOV: (2, 2)}))
    conn.close()
    direct = duckdb.connect(str(path), read_only=True)
    try:
        assert direct.execute("SELECT planned_units_change FROM sop.plan_over_plan").fetchall() == [(2.0,)]
    finally:
        direct.close()


def test_schema_is_recreated_when_something_is_missing(tmp_path):
    """ensure_schema skips its DDL once it has run for a file, but not when a table or view is gone."""
    path = tmp_path / "sop.duckdb"
    conn = db.connect(path)
    try:
        db.ensure_schema(conn)
        conn.execute("DROP VIEW sop.plan_over_plan")
        conn.execute("DROP TABLE draft.forecast")
        db.ensure_schema(conn)
        names = set(conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                                 "WHERE table_catalog = current_database()").fetchall())
    finally:
        conn.close()
    assert {("sop", "plan_over_plan"), ("draft", "forecast")} <= names
    assert db._schema_objects() <= names
