"""The data checks run in DuckDB (common.validation's SQL engine) report exactly what Great Expectations
itself reports on the same rows: counts, problems, example rows with their file and row."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_pipeline.common.validation import Rule, expectations, unexpected_sql, validate_frames
from sop_pipeline.config.loading import load_settings
from sop_pipeline.ingest import load as ingest
from sop_pipeline.ingest import validation
from sop_pipeline.store import db
from tests.support.files import write_settings

CYCLE = date(2024, 5, 1)

MESSY = ("date,sku,family,units,revenue\n"
         "2024-01-02,A,F,1,2\n2024-01-03,A,F,abc,2\n2024-13-45,A,F,1,2\n2024-01-04,,F,1,2\n"
         "2024-01-05,A,F,-3,2\n2030-01-01,A,F,1,2\n2024-01-06,A,F,1,lots\n1850-02-01,B,,1e20,\n"
         + "".join(f"2024-02-{d:02d},C,G,-{d},1\n" for d in range(1, 10))
         + "2024-03-01,D,G,1,-1e30\n2024-03-02,,,,\n")


def _loaded(tmp_path, text: str):
    path = tmp_path / "s.csv"
    path.write_text(text)
    settings = load_settings(write_settings(tmp_path, path, sales={"columns": {
        "date": "date", "sku": "sku", "family": "family", "units": "units", "revenue": "revenue"}}))
    conn = duckdb.connect()
    db.ensure_schema(conn)
    ingest.load_sales(conn, settings, CYCLE)
    return conn


def _as_dicts(report):
    return [(f.expectation, f.column, f.problem, f.unexpected_count, f.examples) for f in report.failures]


@pytest.mark.parametrize("allow_returns", [False, True])
@pytest.mark.parametrize("chunk", [3, 1000])
def test_raw_checks_in_duckdb_equal_great_expectations(tmp_path, allow_returns, chunk):
    conn = _loaded(tmp_path, MESSY)
    rows = ingest.raw_batches(conn, CYCLE, chunk)
    sql = validation.validate_raw_sales(rows, date(2024, 4, 30), allow_returns)
    gx = validation.validate_raw_sales(rows, date(2024, 4, 30), allow_returns, engine="gx")
    assert sql.rows_checked == gx.rows_checked == 19
    assert len(sql.failures) >= 6  # the file breaks most rules
    assert _as_dicts(sql) == _as_dicts(gx)
    assert sql.summary() == gx.summary()


def test_clean_and_empty_tables(tmp_path):
    conn = _loaded(tmp_path, "date,sku,family,units,revenue\n2024-01-02,A,F,1,2\n")
    rows = ingest.raw_batches(conn, CYCLE, 10)
    assert validation.validate_raw_sales(rows, date(2024, 4, 30), False).passed
    empty = ingest.raw_batches(conn, date(2023, 1, 1), 10)
    for engine in ("duckdb", "gx"):
        report = validation.validate_raw_sales(empty, date(2022, 12, 31), False, engine=engine)
        assert not report.passed and "no sales rows at all" in report.summary()


def test_frame_rules_in_duckdb_equal_great_expectations():
    """The forecast suite's kinds of rule (pair, in-set, between, not-null) on a frame with each flaw."""
    E = expectations
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"level": rng.choice(["total", "family", "sku", "bogus"], n, p=[.3, .3, .39, .01]),
                          "yhat": rng.normal(10, 5, n), "month": pd.date_range("2020-01-01", periods=n, freq="D")})
    frame["yhat_lower"] = frame["yhat"] - rng.normal(2, 2, n)
    frame.loc[rng.choice(n, 7, replace=False), "yhat"] = np.nan
    frame.loc[rng.choice(n, 3, replace=False), ["yhat", "yhat_lower"]] = np.nan
    shown = ("level", "month", "yhat", "yhat_lower")
    rules = [Rule(E.ExpectColumnValuesToNotBeNull(column="yhat"), "yhat", "missing yhat", shown),
             Rule(E.ExpectColumnValuesToBeBetween(column="yhat", min_value=0), "yhat", "negative yhat", shown),
             Rule(E.ExpectColumnValuesToBeBetween(column="yhat", min_value=0, max_value=15, strict_max=True),
                  "yhat", "yhat outside [0, 15)", shown),
             Rule(E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="yhat", column_B="yhat_lower", or_equal=True),
                  "yhat", "below the lower bound", shown),
             Rule(E.ExpectColumnValuesToBeInSet(column="level", value_set=["total", "family", "sku"]), "level",
                  "unknown level", shown)]
    assert all(unexpected_sql(r.expectation) for r in rules)
    chunks = [frame.iloc[:150], frame.iloc[150:]]
    sql = validate_frames("f", chunks, rules)
    gx = validate_frames("f", chunks, rules, engine="gx")
    assert [f.unexpected_count for f in sql.failures] == [f.unexpected_count for f in gx.failures]
    assert len(sql.failures) == 5 and sql.failures[0].unexpected_count == 10
    assert _as_dicts(sql) == _as_dicts(gx)


def test_an_expectation_without_sql_runs_in_great_expectations():
    rule = Rule(expectations.ExpectColumnValuesToMatchRegex(column="sku", regex="^A"), "sku", "not an A", ("sku",))
    assert unexpected_sql(rule.expectation) is None
    report = validate_frames("r", [pd.DataFrame({"sku": ["A1", "B2", "A3"]})], [rule])
    assert report.failures[0].unexpected_count == 1 and report.failures[0].examples == [{"sku": "B2"}]
