"""A planner's own export (issue 24): blank families and SKUs, no prices, a damaged or foreign database,
a quiet console, and `init` files that run as written."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from sop_pipeline.alignment import exceptions as exc_core
from sop_pipeline.cli import init as init_cli
from sop_pipeline.cli import progress
from sop_pipeline.common.errors import DatabaseFileError
from sop_pipeline.common.validation import CHUNK_ROWS
from sop_pipeline.config.loading import load_settings
from sop_pipeline.config.schema import AlertSettings
from sop_pipeline.ingest import load as ingest
from sop_pipeline.ingest.sniff import guess_sales
from sop_pipeline.ingest.validation import validate_raw_sales
from sop_pipeline.store import db
from sop_pipeline.store.opening import check_plan_database
from tests.support.files import PROJECT_ROOT, SMALL_CYCLE, shared_file, write_settings

CYCLE = date(2026, 11, 1)


def _sales_with_blanks(path: Path) -> Path:
    """Three families' monthly sales; family B's rows have a blank family, one row of A a blank SKU."""
    lines = ["date,sku,family,units"]
    for month in range(1, 11):
        lines += [f"2026-{month:02d}-05,A1,A,{10 + month}", f"2026-{month:02d}-05,B1,,{5 + month}",
                  f"2026-{month:02d}-06,B2,  ,3"]
    lines.append("2026-03-07,,A,4")
    path.write_text("\n".join(lines) + "\n")
    return path


def _load(tmp_path, sales: Path, columns: dict | None = None, **sales_keys):
    mapping = {"date": "date", "sku": "sku", "family": "family", "units": "units", "revenue": None, **(columns or {})}
    settings = load_settings(write_settings(tmp_path, sales, sales={"columns": mapping, **sales_keys}))
    conn = duckdb.connect()
    db.ensure_schema(conn)
    summary = ingest.load_sales(conn, settings, CYCLE)
    report = validate_raw_sales(ingest.raw_batches(conn, CYCLE, CHUNK_ROWS), date(2026, 11, 30), False)
    raw = db.query_pl(conn, "SELECT family, sku, units FROM raw.sales_history")
    conn.close()
    return summary, report, raw


# --- 1. blank families and SKUs ---------------------------------------------------------------------

def test_blank_families_stop_the_check_and_the_message_names_the_setting(tmp_path):
    _summary, report, _raw = _load(tmp_path, _sales_with_blanks(tmp_path / "s.csv"))
    assert not report.passed
    text = report.summary()
    assert "rows with no family" in text and "sales.missing_family" in text and "20 row" in text
    assert "rows with no SKU" in text and "sales.missing_sku" in text


def test_missing_family_and_sku_names_are_given_to_blank_rows(tmp_path):
    _summary, report, raw = _load(tmp_path, _sales_with_blanks(tmp_path / "s.csv"),
                                  missing_family="Unassigned", missing_sku="Unassigned")
    assert report.passed, report.summary()
    by_family = dict(raw.group_by("family").agg(pl.col("units").sum()).iter_rows())
    # Units written above: A: 11..20 plus 4; the blank family: 6..15 plus 3 x 10.
    assert by_family == {"A": sum(range(11, 21)) + 4, "Unassigned": sum(range(6, 16)) + 30}
    assert set(raw.filter(pl.col("family") == "Unassigned")["sku"]) == {"B1", "B2"}
    assert raw.filter(pl.col("units") == 4)["sku"].to_list() == ["Unassigned (A)"]


def test_a_blank_family_of_a_sku_with_a_family_elsewhere_takes_it(tmp_path):
    """A product whose group is blank on some rows (a half-filled export) stays in its one family."""
    sales = tmp_path / "s.csv"
    sales.write_text("date,sku,family,units\n2026-01-05,P1,A,3\n2026-02-05,P1,,4\n2026-02-05,P2,,5\n"
                     "2026-02-05,P3,A,1\n2026-03-05,P3,B,1\n2026-04-05,P3,,2\n")
    _summary, report, raw = _load(tmp_path, sales, missing_family="Unassigned")
    assert report.passed, report.summary()
    assert sorted(raw.select("sku", "family", "units").rows()) == [
        ("P1", "A", 3.0), ("P1", "A", 4.0), ("P2", "Unassigned", 5.0),
        ("P3", "A", 1.0), ("P3", "B", 1.0), ("P3", "Unassigned", 2.0)]  # P3 has two families: not guessed


def test_drop_blank_rows_leaves_them_out_and_counts_them(tmp_path):
    summary, report, raw = _load(tmp_path, _sales_with_blanks(tmp_path / "s.csv"), drop_blank_rows=True)
    assert report.passed and summary["dropped_blank_rows"] == 21
    assert raw.height == 10 and set(raw["family"]) == {"A"}


def test_without_a_sku_column_the_missing_family_is_the_sku(tmp_path):
    sales = tmp_path / "s.csv"
    sales.write_text("date,family,units\n2026-01-05,A,3\n2026-01-05,,4\n")
    _summary, report, raw = _load(tmp_path, sales, missing_family="Other", columns={"sku": None, "revenue": None})
    assert report.passed, report.summary()
    assert sorted(raw.select("family", "sku").rows()) == [("A", "A"), ("Other", "Other")]


def test_init_counts_blank_rows_in_the_whole_file_and_writes_a_working_answer(tmp_path):
    sales = tmp_path / "s.csv"
    rows = [f"2026-{m:02d}-05,P{n},G{n % 3},{n}" for m in range(1, 11) for n in range(30)]
    rows += ["2026-10-20,P99,,7", "2026-10-21,P98,,8"]  # beyond the rows looked at below
    sales.write_text("date,product_id,group,qty\n" + "\n".join(rows) + "\n")
    guess = guess_sales(sales, rows=100)
    assert not guess.sampled_all and guess.blank_family_rows == 2 and guess.missing_family == "Unassigned"
    text = init_cli.settings_yaml(guess, tmp_path)
    out = tmp_path / "sop.yaml"
    out.write_text(text)
    assert yaml.safe_load(text)["sales"]["missing_family"] == "Unassigned"
    assert "QUESTION" in text and "2 row(s) have a blank 'group'" in text
    settings = load_settings(out)
    assert settings.sales.missing_family == "Unassigned"


def test_init_does_not_take_a_cost_column_for_the_units(tmp_path):
    sales = tmp_path / "s.csv"
    sales.write_text("Month,Group,Product,Cost AUD,Scripts\n" + "".join(
        f"2026-{m:02d}-01,G{n % 2},{1000 + n},{12.5 * n},{n * 3}\n" for m in range(1, 7) for n in range(4)))
    guess = guess_sales(sales)
    assert guess.columns["units"] == "Scripts" and guess.columns["revenue"] is None
    assert guess.columns["sku"] == "Product"


def test_init_takes_a_quantity_named_in_a_trade_unit_without_asking(tmp_path):
    """Cases, cartons, scripts: the units sold, named as the trade counts them (not a QUESTION); a blank
    family without a SKU column is said plainly."""
    sales = tmp_path / "s.csv"
    sales.write_text("Date,Store,Cases,Freight cost\n" + "".join(
        f"2026-{m:02d}-01,{'' if n == 3 else f'S{n}'},{10 + n},{2.5 * n}\n" for m in range(1, 7) for n in range(4)))
    guess = guess_sales(sales)
    assert guess.columns["units"] == "Cases" and guess.columns["revenue"] is None
    assert not any("planned as the units" in q for q in guess.questions)
    assert any("planned as the family 'Unassigned'" in q for q in guess.questions)


def test_init_reads_decimal_years(run_cli, tmp_path):
    """The wine series dates its months as 1980.0833 (February 1980): init writes date_format decimal_year."""
    out = tmp_path / "sop.yaml"
    result = run_cli("init", "--sales", shared_file("australian_wine_sales_monthly.csv"), "--out", out)
    assert result.code == 0, result.text
    written = yaml.safe_load(out.read_text())
    assert written["sales"]["date_format"] == "decimal_year" and written["sales"]["columns"]["date"] == "time"
    assert ingest.sales_month_range(load_settings(out)) == (date(1980, 1, 1), date(1994, 8, 1))


# --- 2. money at stake without prices -----------------------------------------------------------------

def _production(family: str, backlog: list[float], ending: list[float], safety: list[float],
                backlog_cost: list[float]) -> pl.DataFrame:
    months = [date(2027, m, 1) for m in range(1, len(backlog) + 1)]
    return pl.DataFrame({"family": [family] * len(months), "month": months, "backlog": backlog,
                         "ending_inventory": ending, "safety_stock": safety, "backlog_cost": backlog_cost})


def test_counted_months_load_from_first_month(tmp_path):
    """date_format month_number: month n is first_month plus n - 1 months (t = 11 is the next January)."""
    sales = tmp_path / "sales.csv"
    sales.write_text("series,t,value\n" + "".join(f"{s},{t},{t}\n" for s in ("a", "b") for t in range(1, 15)))
    settings = load_settings(write_settings(tmp_path, sales, sales={
        "columns": {"date": "t", "sku": "series", "family": None, "units": "value", "revenue": None},
        "date_format": "month_number", "first_month": "2025-03"}))
    conn = duckdb.connect()
    db.ensure_schema(conn)
    ingest.load_sales(conn, settings, CYCLE)
    rows = conn.execute("SELECT DISTINCT CAST(units AS INTEGER), sale_date FROM raw.sales_history ORDER BY 1").fetchall()
    conn.close()
    assert rows[0] == (1, date(2025, 3, 1)) and rows[10] == (11, date(2026, 1, 1)) and rows[13] == (14, date(2026, 4, 1))
    assert len(rows) == 14


def test_counted_months_need_a_first_month(tmp_path, small_sales):
    from sop_pipeline.common.errors import SettingsError

    with pytest.raises(SettingsError, match="first_month"):
        load_settings(write_settings(tmp_path, small_sales, sales={"date_format": "month_number"}))


def test_without_prices_exceptions_rank_by_cost_and_say_so():
    demand_plan = pl.DataFrame({"family": ["A", "B"], "sku": ["a", "b"], "month": [date(2027, 1, 1)] * 2,
                                "planned_units": [100.0, 100.0], "planned_revenue": [None, None]},
                               schema_overrides={"planned_revenue": pl.Float64})
    production = pl.concat([
        _production("A", [0, 40, 10], [0, 0, 0], [0, 0, 0], [0, 240, 60]),   # late: backlog cost 300
        _production("B", [0, 0, 0], [50, 20, 80], [50, 100, 80], [0, 0, 0]),  # 80 below stock in month 2
    ])
    unit_costs = {"A": exc_core.unit_cost(8, 0.5, 22), "B": exc_core.unit_cost(10, 1.0, 20)}  # 19 and 30
    found = exc_core.find_exceptions(AlertSettings(), demand_plan=demand_plan, production=production,
                                     unit_costs=unit_costs)
    assert found["kind"].to_list() == ["below_safety_stock", "units_short"]  # 80 x 30 = 2,400 before 300
    assert found["money_at_stake"].to_list() == [2400.0, 300.0]
    short, below = found.filter(kind="units_short").row(0, named=True), found.filter(kind="below_safety_stock")
    assert "about 300 of backlog cost" in short["message"]
    assert "about 2,400 of production cost" in below["message"][0]
    assert not found["message"].str.contains("of sales").any()


def test_zero_revenue_is_no_price():
    """A plan whose revenue is 0 everywhere has no prices: never "about 0 of sales"."""
    demand_plan = pl.DataFrame({"family": ["B"], "sku": ["b"], "month": [date(2027, 1, 1)],
                                "planned_units": [100.0], "planned_revenue": [0.0]})
    production = _production("B", [0], [10], [50], [0])
    found = exc_core.find_exceptions(AlertSettings(), demand_plan=demand_plan, production=production)
    assert found["money_at_stake"].to_list() == [None]
    assert "about 0" not in found["message"][0]


# --- 3. a quiet console --------------------------------------------------------------------------------

def test_library_warnings_go_to_the_run_log_not_the_console(tmp_path, capsys):
    progress.hold_library_warnings()
    warnings.warn_explicit("held before the run", UserWarning, "lib.py", 1)
    log = tmp_path / "run.log"
    with progress.run_logging(log, "INFO", print):
        warnings.warn_explicit("during the run", UserWarning, "lib.py", 2)
    captured = capsys.readouterr()
    assert "held before" not in captured.out + captured.err and "during the run" not in captured.out + captured.err
    text = log.read_text()
    assert "UserWarning: held before the run" in text and "UserWarning: during the run" in text


@pytest.mark.slow
def test_the_console_of_a_run_starts_with_the_projects_own_line(tmp_path, small_sales):
    """In a fresh interpreter (Dagster warns once per process, on import): no warning on the console."""
    config = write_settings(tmp_path, small_sales)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(config),
                           "--db", str(tmp_path / "sop.duckdb"), "--cycle", SMALL_CYCLE], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    console = done.stdout + done.stderr
    assert console.splitlines()[0].startswith("sop-pipeline: plan cycle 2026-11")
    assert "Warning" not in console and "warn" not in console.lower()
    log = next((tmp_path / "logs").glob("run_2026-11_*.log")).read_text()
    assert "PreviewWarning" in log


# --- 4. a damaged or foreign database ------------------------------------------------------------------

def test_random_bytes_are_not_a_database_and_the_snapshot_is_named(run_cli, tmp_path, published_copy):
    damaged = tmp_path / "sop.duckdb"
    damaged.write_bytes(os.urandom(100_000))
    before = damaged.read_bytes()
    result = run_cli("run", "--config", write_settings(tmp_path, tmp_path / "no_such_sales.csv"), "--db", damaged)
    assert result.code == 2
    message = " ".join(result.err.split())
    assert str(damaged) in message and "is not a DuckDB database" in message
    assert str(db.snapshot_path(damaged)) in message and "still holds the last plan" in message
    assert "bug" not in message and damaged.read_bytes() == before


def test_a_foreign_duckdb_file_is_not_written_into(run_cli, tmp_path, small_sales):
    foreign = tmp_path / "theirs.duckdb"
    conn = duckdb.connect(str(foreign))
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    result = run_cli("run", "--config", write_settings(tmp_path, small_sales), "--db", foreign)
    assert result.code == 2
    message = " ".join(result.err.split())
    assert str(foreign) in message and "without sop-pipeline's tables" in message and "main.customers" in message
    assert "snapshot" not in message  # none beside it
    conn = duckdb.connect(str(foreign), read_only=True)
    assert conn.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name IN "
                        "('sop', 'raw', 'draft')").fetchall() == []
    conn.close()


@pytest.mark.parametrize("command", [
    ["what-if", "--demand", "10"],
    ["approve", "--cycle", SMALL_CYCLE, "--by", "Ana"],
    ["decide", "--cycle", SMALL_CYCLE, "--exception", "1", "--decision", "accepted", "--by", "Ana"],
    ["adopt", "--cycle", SMALL_CYCLE, "--scenario", "x", "--by", "Ana"],
    ["export", "--cycle", SMALL_CYCLE, "--xlsx", "plan.xlsx"],
])
def test_every_command_that_opens_a_plan_database_refuses_a_damaged_one(run_cli, tmp_path, published_copy, command):
    """The meeting's commands and what-if: the same clear refusal as `run`, the file untouched."""
    published_copy.write_bytes(os.urandom(50_000))
    db.snapshot_path(published_copy).unlink()  # what-if would otherwise read the (intact) snapshot
    before = published_copy.read_bytes()
    result = run_cli(*command, "--db", published_copy)
    assert result.code == 2, result.out + result.err
    message = " ".join(result.err.split())
    assert str(published_copy) in message and "is not a DuckDB database" in message, message
    assert "bug" not in message and published_copy.read_bytes() == before


def test_what_if_names_a_damaged_database_behind_an_intact_snapshot(run_cli, published_copy):
    published_copy.write_bytes(os.urandom(50_000))
    result = run_cli("what-if", "--demand", "10", "--db", published_copy)
    assert result.code == 2
    message = " ".join(result.err.split())
    assert "is not a DuckDB database" in message and "still holds the last plan" in message


def test_a_run_started_outside_the_cli_refuses_a_damaged_database(tmp_path, small_sales, monkeypatch):
    """What the UI and the schedule do: the definitions' job, its paths from SOP_CONFIG / SOP_DB, and no CLI
    check before it."""
    import dagster as dg

    from sop_pipeline.common.resources import CONFIG_ENV, DATABASE_ENV
    from sop_pipeline.definitions import defs
    from sop_pipeline.defs.jobs import JOB_NAME

    damaged = tmp_path / "sop.duckdb"
    damaged.write_bytes(os.urandom(20_000))
    before = damaged.read_bytes()
    monkeypatch.setenv(CONFIG_ENV, str(write_settings(tmp_path, small_sales)))
    monkeypatch.setenv(DATABASE_ENV, str(damaged))
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(
            partition_key=f"{SMALL_CYCLE}-01", instance=instance, raise_on_error=False)
    assert not result.success
    text = " ".join(str(e.event_specific_data) + (e.message or "") for e in result.all_events)
    assert "is not a DuckDB database" in text and str(damaged) in text, text[-3000:]
    assert not [e for e in result.all_events if e.is_step_success]  # no step ran
    assert damaged.read_bytes() == before


def test_a_plan_database_and_a_new_file_pass(tmp_path, published_small):
    check_plan_database(published_small)
    check_plan_database(tmp_path / "new.duckdb")
    (tmp_path / "empty.duckdb").touch()
    check_plan_database(tmp_path / "empty.duckdb")
    (tmp_path / "folder.duckdb").mkdir()
    with pytest.raises(DatabaseFileError):
        check_plan_database(tmp_path / "folder.duckdb")


# --- 5. a workbook like the issue's, planned end to end with the settings init wrote -------------------

def _prescriptions_workbook(path: Path) -> Path:
    """Superstore's best-selling products as a monthly workbook like a prescriptions export: `Month` as
    Excel date cells, `Therapeutic group` (blank for one whole group), `Product` (numeric codes),
    `Product name`, `Scripts` (the units) and `Cost USD` (sales minus profit: a cost, not revenue)."""
    import xlsxwriter

    lines = pl.read_csv(shared_file("superstore_orders.csv"), encoding="utf8-lossy").select(
        pl.col("Sub-Category").alias("group"), pl.col("Product ID").alias("product"),
        pl.col("Product Name").alias("name"),
        pl.col("Order Date").str.strptime(pl.Date, "%m/%d/%Y").dt.truncate("1mo").alias("month"),
        pl.col("Quantity").cast(pl.Float64).alias("units"),
        (pl.col("Sales") - pl.col("Profit")).alias("cost"))
    top = lines.group_by("product").len().sort(["len", "product"], descending=[True, False]).head(40)["product"]
    monthly = (lines.filter(pl.col("product").is_in(top.implode()))
               .group_by("group", "product", "month").agg(pl.col("name").first(), pl.col("units", "cost").sum())
               .sort("month", "product"))
    codes = {p: 100_000 + i for i, p in enumerate(sorted(monthly["product"].unique()))}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Scripts")
    dated = book.add_format({"num_format": "mmm-yyyy"})
    sheet.write_row(0, 0, ["Month", "Therapeutic group", "Product", "Product name", "Scripts", "Cost USD"])
    for n, row in enumerate(monthly.iter_rows(named=True), start=1):
        sheet.write_datetime(n, 0, row["month"], dated)
        sheet.write(n, 1, "" if row["group"] == "Binders" else row["group"])  # an unclassified group
        sheet.write_number(n, 2, codes[row["product"]])
        sheet.write(n, 3, row["name"])
        sheet.write_number(n, 4, row["units"])
        sheet.write_number(n, 5, round(row["cost"], 2))
    book.close()
    return path


@pytest.mark.slow
def test_a_workbook_with_blank_groups_and_no_prices_plans_with_the_settings_init_wrote(run_cli, tmp_path):
    workbook = _prescriptions_workbook(tmp_path / "scripts.xlsx")
    out = tmp_path / "sop.yaml"
    found = run_cli("init", "--sales", workbook, "--out", out)
    assert found.code == 0, found.text
    written = yaml.safe_load(out.read_text())["sales"]
    assert written["columns"] == {"date": "Month", "sku": "Product", "family": "Therapeutic group",
                                  "units": "Scripts", "revenue": None}
    assert written["missing_family"] == "Unassigned" and "blank 'Therapeutic group'" in found.out
    db_path = tmp_path / "plan.duckdb"
    result = run_cli("run", "--config", out, "--db", db_path)  # as written: nothing edited
    assert result.code == 0, result.text[-4000:]
    assert result.out.splitlines()[0].startswith("sop-pipeline: plan cycle 2018-01")
    assert "no revenue in the sales history" in result.out
    conn = db.connect(db_path, read_only=True)
    try:
        families = {r[0] for r in conn.execute("SELECT DISTINCT family FROM sop.demand_history").fetchall()}
        margins = conn.execute("SELECT count(gross_margin), count(*) FROM sop.operating_plan").fetchall()[0]
        scenario = conn.execute("SELECT count(gross_margin) FROM sop.scenario_comparison").fetchall()[0][0]
        exceptions = db.query_pl(conn, "SELECT kind, money_at_stake, message FROM sop.exceptions")
    finally:
        conn.close()
    assert "Unassigned" in families and "Binders" not in families
    assert margins[0] == 0 and margins[1] > 0 and scenario == 0  # null, not minus the cost
    assert exceptions.height > 0 and not exceptions["message"].str.contains("of sales").any()
    costed = exceptions.filter(pl.col("money_at_stake").is_not_null())
    assert costed.height > 0 and (costed["money_at_stake"] >= 0).all() and (costed["money_at_stake"] > 0).any()
    assert not exceptions["message"].str.contains("about 0 ").any()
    said = costed.filter((pl.col("money_at_stake") >= 0.5) & (pl.col("kind") != "capacity_over"))
    assert said["message"].str.contains("of production cost|of backlog cost").all()
    assert costed["money_at_stake"].to_list() == sorted(costed["money_at_stake"].to_list(), reverse=True)
