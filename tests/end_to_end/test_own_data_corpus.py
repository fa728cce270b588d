"""A new user's own data, end to end through `sop-pipeline run` (what a planner with their own files must get).

Each case writes its settings from scratch, as a planner would for their own files, and runs the CLI
in a temporary folder. Each of these failed before the fixes it names: family-level data ("SKU 'all'
belongs to more than one family"), 12 months of history (a crash in the forecast's accuracy summary),
a 1990s history ("outside the cycles this project plans"), no planning section (planning failed after
the forecast), the default database (`sop.plan_runs` ambiguous for plain duckdb). Forecasts are kept
small (short horizon and backtest, one worker) so the corpus takes minutes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from sop_pipeline.store import db
from tests.support.files import shared_file
from tests.support.plan_checks import assert_optimal_never_dearer_in_cash

FAST_FORECAST = {"horizon_months": 6, "backtest_months": 3, "workers": 1}


def _planning(labor_hours_per_unit: float, initial_inventory: float, initial_workers: float = 1) -> dict:
    return {"strategy": "optimal", "service_level": 0.9, "defaults": {
        "workforce": {"initial": initial_workers, "hours_per_day": 8, "integer": False},
        "production": {"labor_hours_per_unit": labor_hours_per_unit, "max_overtime_hours_per_worker": 20},
        "inventory": {"initial": initial_inventory, "ending_min": 0, "allow_backlog": True},
        "costs": {"regular_wage_per_hour": 20, "overtime_wage_per_hour": 30, "hire_per_worker": 800,
                  "layoff_per_worker": 1200, "holding_per_unit_period": 1.5, "backlog_per_unit_period": 8,
                  "material_per_unit": 20, "subcontract_per_unit": 70}}}


def _run(run_cli, folder: Path, settings: dict, *args, db_path: Path | None = None):
    """Write sop.yaml from `settings` in `folder` and run the CLI there; the database (default:
    `--db folder/plan.duckdb`) and the CLI result."""
    path = folder / "sop.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    db_args = ["--db", db_path] if db_path is not None else []
    result = run_cli("run", "--config", path, *db_args, *args)
    assert result.code == 0, result.text[-4000:]
    return result


def _published(db_path: Path) -> dict[str, pl.DataFrame]:
    conn = db.connect(db_path, read_only=True)
    try:
        (cycle,) = conn.execute("SELECT max(plan_cycle) FROM sop.plan_runs").fetchall()[0]
        return {"cycle": cycle, **{t: db.query_pl(conn, f"SELECT * FROM sop.{t} WHERE plan_cycle = $c", {"c": cycle})
                                   for t in db.PLAN_TABLES}}
    finally:
        conn.close()


def _check(db_path: Path, families: int | None = None, horizon: int = FAST_FORECAST["horizon_months"],
           planned: bool = True) -> dict[str, pl.DataFrame]:
    """What every new user's run must publish: history, forecast and demand plan over the horizon, one run
    record, a report; with a planning section, a plan for every family on which optimal is never dearer."""
    tables = _published(db_path)
    for name in ("demand_history", "forecast", "forecast_accuracy", "demand_plan", "plan_runs"):
        assert tables[name].height > 0, f"sop.{name} is empty"
    history_families = set(tables["demand_history"]["family"])
    if families is not None:
        assert len(history_families) == families
    assert tables["demand_plan"]["month"].n_unique() == horizon
    assert set(tables["demand_plan"]["family"]) == history_families
    run = tables["plan_runs"].row(0, named=True)
    assert run["supply_status"] == ("planned" if planned else "skipped")
    if planned:
        assert set(tables["production_plan"]["family"]) == history_families
        assert set(tables["strategy_comparison"]["strategy"]) == {"level", "chase", "optimal"}
        assert_optimal_never_dearer_in_cash(tables["strategy_comparison"])
    else:
        assert "no planning section" in run["supply_note"]
        for name in ("production_plan", "strategy_comparison", "inventory_plan", "operating_plan"):
            assert tables[name].height == 0
    report = db_path.parent / "reports" / f"sop_report_{tables['cycle']:%Y-%m}.html"
    assert report.exists()
    tables["report"] = report.read_text(encoding="utf-8")
    return tables


def _superstore_lines(months: int | None = None, last: str = "2017-12") -> pl.DataFrame:
    """Superstore's order lines, as exported (m/d/Y dates), optionally only the last `months` months."""
    lines = pl.read_csv(shared_file("superstore_orders.csv"), encoding="utf8-lossy", infer_schema=False)
    if months is None:
        return lines
    month = pl.col("Order Date").str.strptime(pl.Date, "%m/%d/%Y").dt.truncate("1mo")
    end = pl.lit(last + "-01").str.to_date()
    return lines.filter((month <= end) & (month > end.dt.offset_by(f"-{months}mo")))


SUPERSTORE_COLUMNS = {"date": "Order Date", "sku": "Product ID", "family": "Sub-Category", "units": "Quantity",
                      "revenue": "Sales"}


@pytest.mark.slow
def test_superstore_at_sku_level(run_cli, tmp_path):
    settings = {"sales": {"path": str(shared_file("superstore_orders.csv")), "columns": SUPERSTORE_COLUMNS,
                          "date_format": "%m/%d/%Y"},
                "forecast": FAST_FORECAST, "planning": _planning(1.5, 40)}
    _run(run_cli, tmp_path, settings, db_path=tmp_path / "plan.duckdb")
    tables = _check(tmp_path / "plan.duckdb", families=17)
    assert tables["demand_history"]["sku"].n_unique() > 1000


@pytest.mark.slow
def test_superstore_at_family_level(run_cli, tmp_path):
    """Sub-Category as the family and no SKU column: each family is one series (SKU = family)."""
    settings = {"sales": {"path": str(shared_file("superstore_orders.csv")), "date_format": "%m/%d/%Y",
                          "columns": {**SUPERSTORE_COLUMNS, "sku": None}},
                "forecast": FAST_FORECAST, "planning": _planning(1.5, 40)}
    _run(run_cli, tmp_path, settings, db_path=tmp_path / "plan.duckdb")
    tables = _check(tmp_path / "plan.duckdb", families=17)
    history = tables["demand_history"]
    assert (history["sku"] == history["family"]).all()


@pytest.mark.slow
def test_walmart_weekly_store_sales(run_cli, tmp_path):
    """45 stores as families, no SKU, day-first two-digit-year dates (05/02/10 = 5 February 2010), weekly
    rows bucketed to months. Weekly_Sales are dollars, planned here as if units."""
    settings = {"sales": {"path": str(shared_file("walmart_weekly_store_sales.csv")), "date_format": "%d/%m/%y",
                          "columns": {"date": "Date", "family": "Store", "sku": None, "units": "Weekly_Sales",
                                      "revenue": None}},
                "forecast": {**FAST_FORECAST, "horizon_months": 3}, "planning": _planning(0.001, 100_000)}
    _run(run_cli, tmp_path, settings, db_path=tmp_path / "plan.duckdb")
    tables = _check(tmp_path / "plan.duckdb", families=45, horizon=3)
    assert tables["cycle"].isoformat() == "2012-11-01"
    assert tables["demand_history"]["month"].min().isoformat() == "2010-02-01"


SINGLE_SERIES = {
    # file: (date column, units column, date format, default cycle)
    "us_retail_sales_monthly.csv": ("ds", "y", None, "2016-06"),
    "australian_wine_sales_monthly.csv": ("time", "value", "decimal_year", "1994-09"),
    "air_passengers_monthly.csv": ("ds", "y", None, "1961-01"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SINGLE_SERIES))
def test_single_series_without_family_or_sku(run_cli, tmp_path, name, monkeypatch):
    """One series (family and sku null); the 1990s (wine, to 1994-08) and 1950s (air passengers) plan
    their next month. Air passengers also runs on the default database, which plain duckdb can query."""
    date, units, date_format, cycle = SINGLE_SERIES[name]
    settings = {"sales": {"path": str(shared_file(name)), "date_format": date_format,
                          "columns": {"date": date, "units": units, "family": None, "sku": None, "revenue": None}},
                "forecast": FAST_FORECAST, "planning": _planning(0.01, 1000)}
    default_db = name.startswith("air")
    if default_db:
        monkeypatch.chdir(tmp_path)
    _run(run_cli, tmp_path, settings, db_path=None if default_db else tmp_path / "plan.duckdb")
    db_path = tmp_path / "data" / "sop_plan.duckdb" if default_db else tmp_path / "plan.duckdb"
    tables = _check(db_path, families=1)
    assert tables["cycle"].strftime("%Y-%m") == cycle
    if default_db:
        # A data team opens the plan or its published snapshot with plain duckdb and queries sop.<table>.
        for path in (db_path, db.snapshot_path(db_path)):
            conn = duckdb.connect(str(path), read_only=True)
            try:
                assert conn.execute("SELECT count(*) FROM sop.plan_runs").fetchall() == [(1,)]
                assert conn.execute("SELECT count(*) FROM sop.forecast").fetchall()[0][0] > 0
            finally:
                conn.close()


def _monthly_files(folder: Path, kind: str) -> Path:
    """The demo generator's daily sales (12 SKUs, 3 years to 2026-10) as one file per month."""
    from sop_pipeline.demo import generate_sales

    frame = generate_sales(n_skus=12, n_days=3 * 365, seed=7)
    folder.mkdir()
    for (month,), rows in frame.group_by(pl.col("date").dt.strftime("%Y-%m"), maintain_order=True):
        target = folder / f"sales_{month}.{kind}"
        rows.write_csv(target) if kind == "csv" else rows.write_parquet(target)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_folder_of_monthly_files(run_cli, tmp_path, kind):
    folder = _monthly_files(tmp_path / "sales", kind)
    assert len(list(folder.iterdir())) >= 36
    settings = {"sales": {"path": str(folder)}, "forecast": FAST_FORECAST, "planning": _planning(0.5, 2000, 12)}
    _run(run_cli, tmp_path, settings, db_path=tmp_path / "plan.duckdb")
    tables = _check(tmp_path / "plan.duckdb")
    assert tables["cycle"].isoformat() == "2026-11-01"
    assert tables["plan_runs"]["input_files"][0].count(f".{kind}") >= 36


@pytest.mark.slow
@pytest.mark.parametrize("months", [12, 3])
def test_short_histories_plan_with_a_note(run_cli, tmp_path, months):
    """12 (and 3) months of family-level history: too short for the backtest and a yearly shape, which the
    accuracy table and the report say; the cycle plans all the same."""
    lines = _superstore_lines(months)
    path = tmp_path / "orders.csv"
    lines.write_csv(path)
    settings = {"sales": {"path": str(path), "date_format": "%m/%d/%Y",
                          "columns": {"date": "Order Date", "family": "Category", "sku": None, "units": "Quantity",
                                      "revenue": "Sales"}},
                "forecast": {"horizon_months": 6, "backtest_months": 12, "workers": 1},
                "planning": _planning(1.5, 40)}
    _run(run_cli, tmp_path, settings, db_path=tmp_path / "plan.duckdb")
    tables = _check(tmp_path / "plan.duckdb", families=3)
    accuracy = tables["forecast_accuracy"]
    assert set(accuracy["method"]) == {"not_backtested"}
    assert accuracy.filter(pl.col("level") == "family").height == 3
    assert accuracy["note"].str.contains(f"{months} month\\(s\\) of history: not backtested").all()
    assert accuracy["note"].str.contains("no yearly seasonal shape").all()
    assert "not backtested" in tables["report"] and "no yearly seasonal shape" in tables["report"]


@pytest.mark.slow
def test_no_planning_section_publishes_forecast_and_demand_plan(run_cli, tmp_path):
    """Sales and forecast only: the cycle publishes the forecast and demand plan; supply planning is recorded
    as skipped, with why, in sop.plan_runs and the report, and no supply step fails."""
    settings = {"sales": {"path": str(shared_file("air_passengers_monthly.csv")),
                          "columns": {"date": "ds", "units": "y", "family": None, "sku": None, "revenue": None}},
                "forecast": FAST_FORECAST}
    result = _run(run_cli, tmp_path, settings, db_path=tmp_path / "plan.duckdb")
    tables = _check(tmp_path / "plan.duckdb", families=1, planned=False)
    assert "Supply planning was skipped for this cycle" in tables["report"]
    assert "supply planning skipped" in result.text.lower()


def test_planning_defaults_missing_keys_are_reported_before_any_data_is_read(run_cli, tmp_path):
    """Defaults without `production` and with a typo, beside one complete family: every family not listed plans
    with the defaults alone, so they are reported at once, with key paths, before the sales are read (the sales
    path does not even exist) and in a few lines."""
    import time

    settings = {"sales": {"path": str(tmp_path / "not_there.csv")},
                "planning": {"defaults": {"workforce": {"initial": 3}, "costs": {"regular_wage": 20}},
                             "families": {"Chairs": {"production": {"labor_hours_per_unit": 1}}}}}
    path = tmp_path / "sop.yaml"
    path.write_text(yaml.safe_dump(settings))
    # CPU time, not wall time: on a shared test machine the wall clock measures the neighbours.
    started = time.process_time()
    result = run_cli("run", "--config", path, "--db", tmp_path / "plan.duckdb")
    assert time.process_time() - started < 10
    assert result.code == 2
    assert "planning.defaults.production: is required" in result.err
    assert "planning.defaults.costs.regular_wage: is not a known key" in result.err
    assert "not_there.csv" not in result.err  # the settings are checked before any data is read
    assert len(result.err.strip().splitlines()) <= 20 and "Traceback" not in result.err
    assert not (tmp_path / "plan.duckdb").exists()


def test_a_cycle_before_the_first_month_of_sales_is_refused(run_cli, tmp_path):
    settings = {"sales": {"path": str(shared_file("air_passengers_monthly.csv")),
                          "columns": {"date": "ds", "units": "y", "family": None, "sku": None, "revenue": None}}}
    path = tmp_path / "sop.yaml"
    path.write_text(yaml.safe_dump(settings))
    result = run_cli("run", "--config", path, "--db", tmp_path / "plan.duckdb", "--cycle", "1949-01")
    assert result.code == 2
    assert "not after the first month of sales (1949-01)" in result.err and "1949-02" in result.err
    assert not (tmp_path / "plan.duckdb").exists()


def test_the_forecast_summary_without_a_backtest_has_its_columns():
    """What crashed a 12-month history (`ColumnNotFoundError: pooled_wape`): no family could be backtested."""
    from sop_pipeline.forecasting.publish import ACCURACY_SCHEMA
    from sop_pipeline.forecasting.summary import accuracy_summary

    accuracy = pl.DataFrame([{"level": "family", "series_key": "Chairs", "family": "Chairs",
                              "method": "not_backtested", "n_points": 0, "note": "12 month(s) of history"}],
                            schema=ACCURACY_SCHEMA)
    summary = accuracy_summary(accuracy)
    assert summary.height == 0 and "pooled_wape" in summary.columns
