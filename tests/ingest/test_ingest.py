"""Ingest: DuckDB readers for CSV/Parquet/glob/folder, column mapping, monthly buckets, data checks."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from sop_pipeline.common.errors import InputDataError
from sop_pipeline.config.loading import parse_settings
from sop_pipeline.ingest import load as ingest
from sop_pipeline.ingest import validation
from sop_pipeline.store import db

CYCLE = date(2024, 4, 1)


def _settings(path, **sales):
    return parse_settings({"sales": {"path": str(path), **sales}})


def _load(settings, cycle=CYCLE):
    conn = duckdb.connect()
    db.ensure_schema(conn)
    ingest.load_sales(conn, settings, cycle)
    return conn


def _write(path, text):
    path.write_text(text)
    return path


def test_user_column_names_and_date_format(tmp_path):
    csv = _write(tmp_path / "orders.csv",
                 "Order Date,Product ID,Sub-Category,Quantity,Sales\n"
                 "01/31/2024,P1,Chairs,2,10.5\n02/01/2024,P1,Chairs,3,15\n03/15/2024,P2,Tables,1,99\n")
    settings = _settings(csv, columns={"date": "Order Date", "sku": "Product ID", "family": "Sub-Category",
                                       "units": "Quantity", "revenue": "Sales"}, date_format="%m/%d/%Y")
    conn = _load(settings)
    rows = conn.execute("SELECT sale_date, sku, family, units, revenue, source_row FROM raw.sales_history "
                        "ORDER BY source_row").fetchall()
    assert rows[0] == (date(2024, 1, 31), "P1", "Chairs", 2.0, 10.5, 1)
    assert rows[2][0] == date(2024, 3, 15) and rows[2][5] == 3
    monthly = db.query_pl(conn, db.sql_text("demand_history_monthly"), {"plan_cycle": CYCLE})
    # P1 sold in January and February; P2 only in March; nothing is invented before or after.
    assert monthly.filter(pl.col("sku") == "P1")["units"].to_list() == [2.0, 3.0]
    assert monthly.filter(pl.col("sku") == "P2")["month"].to_list() == [date(2024, 3, 1)]


def test_gaps_between_first_and_last_sale_are_zero_filled(tmp_path):
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n"
                 "2023-01-05,A,F,4,8\n2023-04-10,A,F,2,4\n2023-04-11,A,F,1,2\n")
    conn = _load(_settings(csv))
    monthly = db.query_pl(conn, db.sql_text("demand_history_monthly"), {"plan_cycle": CYCLE})
    assert monthly["units"].to_list() == [4.0, 0.0, 0.0, 3.0]
    assert monthly["revenue"].to_list() == [8.0, 0.0, 0.0, 6.0]


def test_sales_in_the_cycle_month_are_not_history(tmp_path):
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n2024-03-05,A,F,4,8\n2024-04-02,A,F,9,9\n")
    conn = _load(_settings(csv))
    monthly = db.query_pl(conn, db.sql_text("demand_history_monthly"), {"plan_cycle": CYCLE})
    assert monthly["month"].to_list() == [date(2024, 3, 1)]


def test_parquet_glob_and_folder(tmp_path):
    frame = pl.DataFrame({"day": [date(2024, 1, 2), date(2024, 2, 3)], "item": ["A", "B"],
                          "qty": [1.5, 2.0], "amount": [3.0, 4.0]})
    folder = tmp_path / "sales"
    folder.mkdir()
    frame.head(1).write_parquet(folder / "part1.parquet")
    frame.tail(1).write_parquet(folder / "part2.parquet")
    columns = {"date": "day", "sku": "item", "family": None, "units": "qty", "revenue": "amount"}
    for path in (folder, folder / "*.parquet"):
        conn = _load(_settings(path, columns=columns))
        rows = conn.execute("SELECT sku, family, units FROM raw.sales_history ORDER BY sku").fetchall()
        # No family column: every SKU belongs to the one family named 'all'.
        assert rows == [("A", "all", 1.5), ("B", "all", 2.0)]


def test_missing_sku_and_family_columns_make_one_series(tmp_path):
    csv = _write(tmp_path / "s.csv", "date,units\n2024-01-02,5\n")
    conn = _load(_settings(csv, columns={"sku": None, "family": None, "revenue": None}))
    assert conn.execute("SELECT family, sku, units, revenue FROM raw.sales_history").fetchall() == [("all", "all", 5.0, None)]


def test_names_with_quotes_and_sql_load_as_plain_names(tmp_path):
    nasty_sku = "x'); DROP TABLE raw.sales_history; --"
    nasty_family = 'O"Brien\'s "Best"'
    frame = pl.DataFrame({"date": ["2024-01-02"], "sku": [nasty_sku], "family": [nasty_family],
                          "units": [1], "revenue": [2.0]})
    frame.write_csv(tmp_path / "s.csv")
    conn = _load(_settings(tmp_path / "s.csv"))
    assert conn.execute("SELECT sku, family FROM raw.sales_history").fetchall() == [(nasty_sku, nasty_family)]


def test_column_names_with_quotes_are_quoted(tmp_path):
    csv = _write(tmp_path / "s.csv", 'date,"the ""sku""",family,units,revenue\n2024-01-02,A,F,1,2\n')
    conn = _load(_settings(csv, columns={"sku": 'the "sku"'}))
    assert conn.execute("SELECT sku FROM raw.sales_history").fetchall() == [("A",)]


@pytest.mark.parametrize("content, expected", [
    ("", "empty"),
    ("date,sku,family,qty,revenue\n2024-01-02,A,F,1,2\n", "no column 'units'"),
])
def test_structural_problems_name_the_file(tmp_path, content, expected):
    csv = _write(tmp_path / "broken.csv", content)
    with pytest.raises(InputDataError) as info:
        _load(_settings(csv))
    assert expected in info.value.message and "broken.csv" in info.value.message


def test_missing_column_lists_the_file_columns_and_suggests(tmp_path):
    csv = _write(tmp_path / "s.csv", "Date,sku,family,units,revenue\n2024-01-02,A,F,1,2\n")
    with pytest.raises(InputDataError) as info:
        _load(_settings(csv))
    assert "Did you mean 'Date'" in info.value.message and "sales.columns.date" in info.value.message


def test_validation_reports_every_problem_with_example_rows(tmp_path):
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n"
                 "2024-01-02,A,F,1,2\n2024-01-03,A,F,abc,2\n2024-13-45,A,F,1,2\n"
                 "2024-01-04,,F,1,2\n2024-01-05,A,F,-3,2\n2030-01-01,A,F,1,2\n2024-01-06,A,F,1,lots\n")
    conn = _load(_settings(csv))
    report = validation.validate_raw_sales(ingest.raw_batches(conn, CYCLE, 2), date(2024, 4, 30), False)
    assert not report.passed
    by_column = {(f.column, f.problem.split(" ")[0]): f for f in report.failures}
    assert {f.column for f in report.failures} == {"date", "units", "sku", "revenue"}
    text = report.summary()
    assert "units_text='abc'" in text and "row=2" in text
    assert "sale_date_text='2024-13-45'" in text and "row=3" in text
    assert "rows with no SKU (set sales.missing_sku" in text
    assert "leave them out) (1 row(s)); for example: file='s.csv', row=4" in text
    assert "negative units" in text and "row=5" in text
    assert "after the plan cycle" in text and "row=6" in text
    assert "revenue_text='lots'" in text
    assert all(f.unexpected_count == 1 for f in by_column.values())


def test_returns_allowed_by_setting(tmp_path):
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n2024-01-05,A,F,-3,2\n")
    conn = _load(_settings(csv))
    assert validation.validate_raw_sales(ingest.raw_batches(conn, CYCLE, 10), date(2024, 4, 30), True).passed
    assert not validation.validate_raw_sales(ingest.raw_batches(conn, CYCLE, 10), date(2024, 4, 30), False).passed


def test_default_cycle_is_month_after_last_sale(tmp_path):
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n2024-01-05,A,F,3,2\n2024-12-31,A,F,3,2\n")
    assert ingest.default_cycle(_settings(csv)) == date(2025, 1, 1)


def test_superstore_loads_with_its_own_column_names():
    from tests.support.files import shared_file

    path = shared_file("superstore_orders.csv")
    settings = _settings(path, columns={"date": "Order Date", "sku": "Product ID", "family": "Sub-Category",
                                        "units": "Quantity", "revenue": "Sales"}, date_format="%m/%d/%Y")
    conn = _load(settings, date(2018, 1, 1))
    rows, families, first, last = conn.execute(
        "SELECT count(*), count(DISTINCT family), min(sale_date), max(sale_date) FROM raw.sales_history").fetchall()[0]
    assert (rows, families) == (9994, 17)
    assert (first, last) == (date(2014, 1, 3), date(2017, 12, 30))
    report = validation.validate_raw_sales(ingest.raw_batches(conn, date(2018, 1, 1), 5000), date(2018, 1, 31), False)
    assert report.passed, report.summary()


def test_family_level_sales_make_each_family_one_series(tmp_path):
    """sales.columns.sku: null: each family is its own SKU (the S&OP grain); both null: one series 'all'."""
    csv = _write(tmp_path / "families.csv", "month,line,units\n2024-01-01,Chairs,5\n2024-01-01,Tables,2\n"
                                            "2024-02-01,Chairs,6\n")
    conn = _load(_settings(csv, columns={"date": "month", "family": "line", "sku": None, "units": "units",
                                         "revenue": None}))
    rows = conn.execute("SELECT DISTINCT family, sku FROM raw.sales_history ORDER BY ALL").fetchall()
    assert rows == [("Chairs", "Chairs"), ("Tables", "Tables")]
    conn = _load(_settings(csv, columns={"date": "month", "family": None, "sku": None, "units": "units",
                                         "revenue": None}))
    assert conn.execute("SELECT DISTINCT family, sku FROM raw.sales_history").fetchall() == [("all", "all")]


def test_decimal_year_dates(tmp_path):
    """R's ts exports (../shared/data/australian_wine_sales_monthly.csv): 1980 = Jan, 1980.0833 = Feb."""
    csv = _write(tmp_path / "wine.csv", "rownames,time,value\n1,1980,15136\n2,1980.08333333333,16733\n"
                                        "12,1980.91666666667,25000\n13,1981,14000\n14,oops,1\n")
    settings = _settings(csv, columns={"date": "time", "units": "value", "family": None, "sku": None,
                                       "revenue": None}, date_format="decimal_year")
    conn = _load(settings, cycle=date(1981, 2, 1))
    dates = [r[0] for r in conn.execute("SELECT sale_date FROM raw.sales_history ORDER BY source_row").fetchall()]
    assert dates == [date(1980, 1, 1), date(1980, 2, 1), date(1980, 12, 1), date(1981, 1, 1), None]
    assert ingest.sales_month_range(settings) == (date(1980, 1, 1), date(1981, 1, 1))


def test_plan_cycles_from_after_the_first_month_of_sales(tmp_path):
    """Any cycle after the first month of sales and up to the last partition can be planned (1990s too)."""
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n1987-01-15,A,F,4,8\n1992-12-10,A,F,2,4\n")
    first, last = ingest.sales_month_range(_settings(csv))
    assert (first, last) == (date(1987, 1, 1), date(1992, 12, 1))
    ingest.check_cycle(date(1993, 1, 1), first, date(2027, 11, 1))
    ingest.check_cycle(date(1987, 2, 1), first, date(2027, 11, 1))
    with pytest.raises(InputDataError, match="not after the first month of sales \\(1987-01\\)"):
        ingest.check_cycle(date(1987, 1, 1), first, date(2027, 11, 1))
    with pytest.raises(InputDataError, match="more than 12 months past today"):
        ingest.check_cycle(date(2027, 12, 1), first, date(2027, 11, 1))


def test_partitions_reach_back_to_old_histories_and_a_year_ahead():
    from sop_pipeline.defs.partitions import plan_cycles

    keys = plan_cycles.get_partition_keys()
    assert keys[0] == "1900-01-01" and "1949-01-01" in keys and "1993-01-01" in keys
    today = date.today().replace(day=1)
    ahead = date(today.year + (today.month + 11) // 12, (today.month + 11) % 12 + 1, 1)
    assert keys[-1] == ahead.isoformat()


def test_the_sales_month_range_skips_unreadable_dates(tmp_path):
    """One impossible date (2024-02-30) must not stop the scan for the plan cycle: the run's data checks
    report it with its row."""
    csv = _write(tmp_path / "s.csv", "date,sku,family,units,revenue\n2024-01-05,A,F,1,1\n2024-02-30,A,F,1,1\n"
                                     "2024-03-02,A,F,1,1\n")
    assert ingest.sales_month_range(_settings(csv)) == (date(2024, 1, 1), date(2024, 3, 1))
