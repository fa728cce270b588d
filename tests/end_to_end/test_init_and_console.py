"""A planner's first hour: `init` on real files, Excel inputs, the console of a run (progress, then
one paragraph with every problem; Dagster's log in a file), and a wrong planning key caught in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from sop_pipeline.cli import progress
from sop_pipeline.common.errors import InputDataError, SettingsError
from sop_pipeline.common.months import add_months
from sop_pipeline.config.loading import DEMO_SETTINGS, load_settings
from sop_pipeline.demand.adjustments import load_adjustments
from sop_pipeline.demand.new_products import load_new_products
from sop_pipeline.ingest.load import last_sales_month, load_sales
from sop_pipeline.ingest.sniff import guess_sales
from sop_pipeline.store import db
from tests.support.files import PROJECT_ROOT, SHARED_DATA, SMALL_CYCLE, shared_file, write_settings

DEMO = DEMO_SETTINGS.parent

# What `init` must find in each file of ../shared/data: columns, date format, families, last month.
EXPECTED_GUESSES = {
    "superstore_orders.csv": ({"date": "Order Date", "sku": "Product ID", "family": "Sub-Category",
                               "units": "Quantity", "revenue": "Sales"}, "%m/%d/%Y", 17, date(2017, 12, 1)),
    "walmart_weekly_store_sales.csv": ({"date": "Date", "sku": None, "family": "Store", "units": "Weekly_Sales",
                                        "revenue": None}, "%d/%m/%y", 45, date(2012, 10, 1)),
    "us_retail_sales_monthly.csv": ({"date": "ds", "sku": None, "family": None, "units": "y", "revenue": None},
                                    None, 1, date(2016, 5, 1)),
    "air_passengers_monthly.csv": ({"date": "ds", "sku": None, "family": None, "units": "y", "revenue": None},
                                   None, 1, date(1960, 12, 1)),
}


def _write_excel(frame: pl.DataFrame, path: Path) -> Path:
    frame.write_excel(path, worksheet="Sales")
    return path


# --- init ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED_GUESSES))
def test_init_guesses_each_real_file_and_writes_settings_that_load(name, run_cli, tmp_path):
    columns, date_format, families, last_month = EXPECTED_GUESSES[name]
    out = tmp_path / "conf" / "sop.yaml"
    result = run_cli("init", "--sales", shared_file(name), "--out", out)
    assert result.code == 0, result.text[-2000:]
    written = yaml.safe_load(out.read_text())
    assert written["sales"]["columns"] == columns
    assert written["sales"]["date_format"] == date_format
    assert f"{families} famil" in result.out
    assert "REPLACE" in out.read_text()
    settings = load_settings(out)  # every key valid, planning placeholders included
    assert settings.sales_path.resolve() == (SHARED_DATA / name).resolve()
    assert last_sales_month(settings) == last_month  # the written mapping reads the dates as the pipeline does


def test_init_on_superstore_asks_about_the_other_date_and_family_columns(tmp_path):
    guess = guess_sales(shared_file("superstore_orders.csv"))
    text = " ".join(guess.questions)
    assert "'Ship Date'" in text and "'Category'" in text
    assert len(guess.families) == 17 and guess.skus == 1862


def test_init_on_walmart_says_money_is_planned_as_units():
    guess = guess_sales(shared_file("walmart_weekly_store_sales.csv"))
    assert any("Weekly_Sales" in q and "money" in q for q in guess.questions)
    assert sorted(guess.families, key=int) == [str(n) for n in range(1, 46)]


def test_init_reads_parquet_and_excel_like_csv(tmp_path, small_sales):
    frame = pl.read_csv(small_sales, try_parse_dates=True)
    frame.write_parquet(tmp_path / "sales.parquet")
    _write_excel(frame, tmp_path / "sales.xlsx")
    guesses = [guess_sales(p) for p in (small_sales, tmp_path / "sales.parquet", tmp_path / "sales.xlsx")]
    for guess in guesses:
        assert guess.columns == {"date": "date", "sku": "sku", "family": "family", "units": "units",
                                 "revenue": "revenue"}
        assert guess.date_format is None and guess.last_date == date(2026, 10, 31)
        assert guess.families == guesses[0].families and guess.skus == 12


def test_init_refuses_text_that_is_not_utf8(run_cli, tmp_path):
    sales = tmp_path / "sales.csv"
    sales.write_bytes("date,sku,units\n2024-01-02,Caf\u00e9,1\n".encode("latin-1"))
    result = run_cli("init", "--sales", sales, "--out", tmp_path / "sop.yaml")
    assert result.code == 2 and "not UTF-8" in result.err


def test_init_refuses_a_file_without_dates(run_cli, tmp_path):
    """Neither dates, decimal years nor a count of months: nothing to date sales by."""
    sales = tmp_path / "sales.csv"
    sales.write_text("product,store,units\n" + "".join(f"P{i},S{i % 3},{i}\n" for i in range(40)))
    out = tmp_path / "sop.yaml"
    result = run_cli("init", "--sales", sales, "--out", out)
    assert result.code == 2 and "No column of the sales file holds dates" in result.err
    assert "product, store, units" in result.err and not out.exists()


def test_init_places_counted_months_on_the_calendar_and_asks(run_cli, tmp_path):
    """The competition corpus counts months (t = 1, 2, ...) per series with no calendar: init writes
    date_format month_number and a first_month under which the highest t is last month, as a QUESTION."""
    out = tmp_path / "sop.yaml"
    result = run_cli("init", "--sales", shared_file("competition_monthly.csv"), "--out", out)
    assert result.code == 0, result.text[-2000:]
    written = yaml.safe_load(out.read_text())["sales"]
    assert written["columns"] == {"date": "t", "sku": "series", "family": None, "units": "value", "revenue": None}
    assert written["date_format"] == "month_number"
    highest = pl.read_csv(shared_file("competition_monthly.csv"))["t"].max()
    last = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    first = date.fromisoformat(written["first_month"] + "-01")
    assert (last.year - first.year) * 12 + last.month - first.month + 1 == highest
    assert "QUESTION" in out.read_text() and "counts months" in result.out
    assert last_sales_month(load_settings(out)) == last


def test_init_asks_when_day_and_month_cannot_be_told_apart(tmp_path):
    sales = tmp_path / "sales.csv"
    sales.write_text("day,item,qty,pieces\n01/02/2024,A,3,3\n03/04/2024,A,5,5\n12/11/2024,B,2,2\n")
    guess = guess_sales(sales)
    assert guess.date_format == "%m/%d/%Y"
    asked = " ".join(guess.questions)
    assert "%d/%m/%Y" in asked and "day-first" in asked
    assert "'qty'" in asked and "'pieces'" in asked  # two columns could be the units
    from sop_pipeline.cli.init import settings_yaml

    text = settings_yaml(guess, tmp_path)
    assert "day-first" in text and text.count("# QUESTIONS") == 1


def test_init_does_not_overwrite_without_force(run_cli, tmp_path):
    out = tmp_path / "sop.yaml"
    out.write_text("mine")
    result = run_cli("init", "--sales", DEMO / "sales_history.csv", "--out", out)
    assert result.code == 2 and "--force" in result.err and out.read_text() == "mine"
    assert run_cli("init", "--sales", DEMO / "sales_history.csv", "--out", out, "--force").code == 0
    assert yaml.safe_load(out.read_text())["sales"]["columns"] == {
        "date": "date", "sku": "sku", "family": "family", "units": "units", "revenue": "revenue"}


# --- Excel -----------------------------------------------------------------------------------------

def test_excel_planner_files_read_like_their_csv(tmp_path):
    for name, loader in (("adjustments", load_adjustments), ("new_products", load_new_products)):
        csv_path = DEMO / f"{name}.csv"
        frame = pl.read_csv(csv_path, infer_schema=False)
        month = "month" if name == "adjustments" else "launch_month"
        # As a planner's workbook has them: months as real date cells, numbers as numbers.
        frame = frame.with_columns(pl.col(month).str.to_date("%Y-%m"))
        numbers = [c for c in ("units", "percent", "cannibalization_share") if c in frame.columns]
        frame = frame.with_columns(pl.col(numbers).cast(pl.Float64))
        workbook = _write_excel(frame, tmp_path / f"{name}.xlsx")
        from_csv, from_excel = loader(csv_path), loader(workbook)
        assert from_excel.drop("source").equals(from_csv.drop("source")), name


def test_excel_problems_name_the_sheet_row_and_column(tmp_path):
    frame = pl.DataFrame({"family": ["Cookware", "Cookware"], "month": ["2027-01", "Jan"], "units": ["5", "five"],
                          "reason": ["promo", "promo"]})
    workbook = _write_excel(frame, tmp_path / "adjustments.xlsx")
    with pytest.raises(InputDataError) as caught:
        load_adjustments(workbook)
    message = caught.value.message
    assert "sheet 'Sales'" in message
    assert "row 3, column month: 'Jan' is not a month" in message
    assert "row 3, column units" in message


def test_excel_sales_load_like_the_csv(tmp_path, small_sales):
    frame = pl.read_csv(small_sales, try_parse_dates=True)
    assert frame.schema["date"] == pl.Date
    workbook = _write_excel(frame, tmp_path / "sales.xlsx")
    counts = {}
    for path in (small_sales, workbook):
        settings = load_settings(write_settings(tmp_path, path))
        conn = duckdb.connect()
        db.ensure_schema(conn)
        load_sales(conn, settings, date(2026, 11, 1))
        counts[path.suffix] = conn.execute(
            "SELECT count(*), count(sale_date), min(sale_date), max(sale_date), sum(units), round(sum(revenue), 2), "
            "count(DISTINCT sku) FROM raw.sales_history").fetchall()[0]
        conn.close()
        assert last_sales_month(settings) == date(2026, 10, 1)
    assert counts[".xlsx"] == counts[".csv"]


# --- the run's console -----------------------------------------------------------------------------

def test_failure_paragraph_keeps_every_problem_and_names_the_log(tmp_path):
    import dagster as dg

    @dg.asset
    def production_plan():
        raise SettingsError("The planning settings for Accessories have 2 problem(s)",
                            problems=["planning.families.Accessories.workforce: is required",
                                      "planning.families.Accessories.production: is required"],
                            fix="Correct these keys")

    result = dg.materialize([production_plan], raise_on_error=False)
    message, code = progress.explain_failure(result, tmp_path / "run.log")
    assert code == 2
    assert message.startswith("The planning settings for Accessories have 2 problem(s):\n"
                              "  - planning.families.Accessories.workforce: is required\n"
                              "  - planning.families.Accessories.production: is required\n")
    assert str(tmp_path / "run.log") in message and "SettingsError" not in message


def test_a_failing_run_prints_progress_then_one_paragraph_and_logs_to_a_file(run_cli, tmp_path):
    """A new product of a family the history does not have fails inside the Dagster run (the new-product
    step; the file itself is well formed, so the pre-run check passes it): the console shows the header,
    then the paragraph; the stack trace is in the run's log file only."""
    sales = tmp_path / "sales.csv"
    sales.write_text("date,sku,family,units,revenue\n" + "".join(
        f"2026-{m:02d}-03,A,F,{10 + m},{20 + m}\n" for m in range(1, 11)))
    launches = tmp_path / "new_products.csv"
    launches.write_text("product,family,launch_month,expected_peak_units\nNEW-1,Nope,2027-01,100\n")
    db_path = tmp_path / "plan" / "sop.duckdb"
    result = run_cli("run", "--config", write_settings(tmp_path, sales, new_products=str(launches)),
                     "--db", db_path, "--cycle", SMALL_CYCLE)
    assert result.code == 2, result.text[-2000:]
    for text in (result.out, result.err):
        assert "Traceback" not in text and "Stack Trace" not in text and "dagster - ERROR" not in text
    paragraph = result.err.strip()
    assert paragraph.startswith("Error: ") and "Nope" in paragraph and paragraph.count("Error:") == 1
    logs = list((db_path.parent / "logs").glob(f"run_{SMALL_CYCLE}_*.log"))
    assert len(logs) == 1 and str(logs[0]) in paragraph.replace("\n", "")
    assert "Stack Trace" in logs[0].read_text() and "STEP_FAILURE" in logs[0].read_text()


def test_wrong_planning_key_on_superstore_is_reported_in_seconds(tmp_path):
    """Before ingest and fitting: under 10 s from the command, at most 20 lines, exit 2, the key named."""
    settings = {
        "sales": {"path": str(shared_file("superstore_orders.csv")), "date_format": "%m/%d/%Y",
                  "columns": {"date": "Order Date", "sku": "Product ID", "family": "Sub-Category",
                              "units": "Quantity", "revenue": "Sales"}},
        "planning": yaml.safe_load(DEMO_SETTINGS.read_text())["planning"],
    }
    settings["planning"]["defaults"]["costs"]["wage_per_hour"] = 20  # not a key: regular_wage_per_hour
    config = tmp_path / "sop.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(config),
                           "--db", str(tmp_path / "sop.duckdb")], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    elapsed = time.monotonic() - started
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 2, output
    assert "planning.defaults.costs.wage_per_hour" in output
    assert len(output.splitlines()) <= 20, output
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert not (tmp_path / "sop.duckdb").exists()


# --- corpus: whole runs ----------------------------------------------------------------------------

def _published(db_path: Path) -> dict[str, int]:
    conn = db.connect(db_path, read_only=True)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM sop.{t}").fetchall()[0][0] for t in db.PLAN_TABLES}
    finally:
        conn.close()


@pytest.mark.slow
def test_corpus_excel_sales_run_end_to_end(run_cli, tmp_path, small_sales):
    workbook = _write_excel(pl.read_csv(small_sales, try_parse_dates=True), tmp_path / "sales.xlsx")
    db_path = tmp_path / "sop.duckdb"
    result = run_cli("run", "--config", write_settings(tmp_path, workbook), "--db", db_path)
    assert result.code == 0, result.text[-3000:]
    published = _published(db_path)
    assert published["demand_history"] > 0 and published["production_plan"] > 0 and published["plan_runs"] == 1
    assert "✓ sop/plan_runs" in result.out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in SHARED_DATA.glob("*.csv")) if SHARED_DATA.is_dir()
                         else ["(shared data absent)"])
def test_init_then_run_on_every_shared_file_runs_as_written(name, run_cli, tmp_path):
    """`init` on each real file of ../shared/data, then `run` on the settings exactly as init wrote them
    (placeholders, QUESTIONS' answers and all): the cycle after the last month of sales is published."""
    out = tmp_path / "sop.yaml"
    result = run_cli("init", "--sales", shared_file(name), "--out", out)
    assert result.code == 0, result.text[-2000:]
    settings = load_settings(out)
    db_path = tmp_path / "sop.duckdb"
    result = run_cli("run", "--config", out, "--db", db_path)
    assert result.code == 0, result.text[-3000:]
    assert "bug" not in result.text
    published = _published(db_path)
    for table in ("demand_history", "forecast", "demand_plan", "production_plan", "inventory_plan", "plan_runs"):
        assert published[table] > 0, table
    conn = db.connect(db_path, read_only=True)
    cycle, status = conn.execute("SELECT plan_cycle, supply_status FROM sop.plan_runs").fetchall()[0]
    conn.close()
    last = last_sales_month(settings)
    assert cycle == add_months(last, 1) and status == "planned"
