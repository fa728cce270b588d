"""`sop-pipeline export --xlsx`: the planner's workbook read back with Polars' Excel reader (calamine) and
every sheet checked against the published tables (queried in SQL); the Adjustments sheet round trip."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from sop_pipeline.meeting import workbook
from sop_pipeline.store import db
from tests.conftest import SMALL_CYCLE, snapshot, write_settings

CYCLE = date(2026, 11, 1)


def query(path, sql, params=None) -> pl.DataFrame:
    conn = db.connect(path, read_only=True)
    try:
        return db.query_pl(conn, sql, params or {"c": CYCLE})
    finally:
        conn.close()


def read_sheet(path, name) -> pl.DataFrame:
    return pl.read_excel(path, sheet_name=name)


def sheet_values(sheet: pl.DataFrame, index: list[str]) -> dict:
    """{(index..., measure, YYYY-MM): value} of a months-across sheet."""
    months = [c for c in sheet.columns if c[:4].isdigit()]
    out = {}
    for row in sheet.iter_rows(named=True):
        for month in months:
            if row[month] is not None:
                out[(*[row[i] for i in index], row["measure"], month)] = float(row[month])
    return out


def table_values(frame: pl.DataFrame, index: list[str], measures: list[str]) -> dict:
    out = {}
    for row in frame.iter_rows(named=True):
        for measure in measures:
            if row[measure] is not None:
                out[(*[row[i] for i in index], measure, row["month"].strftime("%Y-%m"))] = float(row[measure])
    return out


def assert_same(got: dict, expected: dict, what: str) -> None:
    assert got.keys() == expected.keys(), what
    worst = max((abs(got[k] - v) / max(1.0, abs(v)) for k, v in expected.items()), default=0.0)
    assert worst < 1e-9, (what, worst)


@pytest.fixture
def exported(published_copy, run_cli):
    path = published_copy.parent / "meeting.xlsx"
    result = run_cli("export", "--db", published_copy, "--cycle", SMALL_CYCLE, "--xlsx", path)
    assert result.code == 0, result.text
    return published_copy, path


def test_every_sheet_matches_the_published_tables(exported):
    db_path, path = exported
    names = pl.read_excel(path, sheet_id=0).keys()
    strategies = query(db_path, "SELECT DISTINCT strategy FROM sop.production_plan WHERE plan_cycle = $c ORDER BY 1")
    assert list(names) == ["Adjustments", "Decisions needed", "Demand plan",
                           *[f"Supply {s}" for s in strategies["strategy"]],
                           "Inventory", "Capacity", "Scenarios", "Budget gap"]
    demand_measures = ["planned_units", "planned_revenue", "statistical_forecast", "adjustment_units"]
    skus = query(db_path, "SELECT family, sku, month, " + ", ".join(demand_measures) +
                 " FROM sop.demand_plan WHERE plan_cycle = $c")
    families = query(db_path, "SELECT family, 'ALL SKUS' AS sku, month, " +
                     ", ".join(f"coalesce(sum({m}), 0) AS {m}" for m in demand_measures) +
                     " FROM sop.demand_plan WHERE plan_cycle = $c GROUP BY ALL")
    assert_same(sheet_values(read_sheet(path, "Demand plan"), ["family", "sku"]),
                table_values(pl.concat([skus, families]), ["family", "sku"], demand_measures), "demand plan")
    for strategy in strategies["strategy"]:
        rows = query(db_path, "SELECT * FROM sop.production_plan WHERE plan_cycle = $c AND strategy = $s",
                     {"c": CYCLE, "s": strategy})
        assert_same(sheet_values(read_sheet(path, f"Supply {strategy}"), ["family"]),
                    table_values(rows, ["family"], workbook.SUPPLY_MEASURES), strategy)
    checks = [("Inventory", "inventory_plan", ["family", "sku"], workbook.INVENTORY_MEASURES),
              ("Capacity", "capacity_plan", ["resource", "family"], workbook.CAPACITY_MEASURES),
              ("Budget gap", "budget_gap", ["family"], workbook.BUDGET_MEASURES)]
    for sheet, table, index, measures in checks:
        rows = query(db_path, f"SELECT * FROM sop.{table} WHERE plan_cycle = $c")
        assert_same(sheet_values(read_sheet(path, sheet), index) if rows.height else {},
                    table_values(rows, index, measures), sheet)
    scenarios = read_sheet(path, "Scenarios")
    published = query(db_path, "SELECT scenario, total_cost, gross_margin, status FROM sop.scenario_comparison "
                               "WHERE plan_cycle = $c AND family = 'ALL FAMILIES'")
    assert set(scenarios.columns) == {"kpi", *published["scenario"]}
    by_kpi = {row["kpi"]: row for row in scenarios.iter_rows(named=True)}
    for row in published.iter_rows(named=True):
        assert float(by_kpi["total_cost"][row["scenario"]]) == pytest.approx(row["total_cost"], rel=1e-12)
        assert by_kpi["status"][row["scenario"]] == row["status"]
    decisions = read_sheet(path, "Decisions needed")
    exceptions = query(db_path, "SELECT exception_key, money_at_stake FROM sop.exceptions WHERE plan_cycle = $c "
                                "ORDER BY money_at_stake DESC NULLS LAST, exception_key")
    assert decisions["exception_key"].to_list() == exceptions["exception_key"].to_list()
    assert decisions["number"].to_list() == list(range(1, exceptions.height + 1))
    assert decisions["money_at_stake"].to_list() == pytest.approx(exceptions["money_at_stake"].to_list())
    assert decisions["decision"].null_count() == decisions.height  # nothing decided yet: all open


def rewrite_adjustments(path, rows: list[dict]) -> None:
    """What a planner does in Excel: add rows to the Adjustments sheet and save (the other sheets kept)."""
    book = pl.read_excel(path, sheet_id=0)
    edited = pl.concat([book["Adjustments"].cast(pl.String),
                        pl.DataFrame(rows, schema={c: pl.String for c in workbook.ADJUSTMENT_COLUMNS})])
    book["Adjustments"] = edited.with_columns(
        pl.col("units", "percent").cast(pl.Float64, strict=False))
    workbook.write_workbook(path, book, "edited")


def test_adjustments_round_trip_changes_the_next_run_exactly(exported, run_cli, small_sales, tmp_path):
    db_path, path = exported
    plan = query(db_path, "SELECT family, sku, month, planned_units FROM sop.demand_plan WHERE plan_cycle = $c")
    family = plan["family"].sort()[0]
    sku = plan.filter(pl.col("family") != family)["sku"].sort()[0]
    rewrite_adjustments(path, [
        {"family": family, "sku": None, "month": "2027-01", "units": None, "percent": "12.5",
         "reason": "Retailer promotion", "author": "Sales"},
        {"family": None, "sku": sku, "month": "2027-02", "units": "-37.25", "percent": None,
         "reason": "Delisting", "author": None},
    ])
    settings = write_settings(tmp_path, small_sales, adjustments=str(path))
    result = run_cli("run", "--config", settings, "--db", db_path, "--cycle", SMALL_CYCLE)
    assert result.code == 0, result.text
    after = query(db_path, "SELECT family, sku, month, statistical_forecast, new_product_units, cannibalized_units, "
                           "adjustment_requested, adjustment_units, planned_units, adjustment_reasons "
                           "FROM sop.demand_plan WHERE plan_cycle = $c")
    base = (pl.col("statistical_forecast").fill_null(0) + pl.col("new_product_units").fill_null(0)
            + pl.col("cannibalized_units").fill_null(0)).clip(lower_bound=0)
    after = after.with_columns(base=base)
    january = after.filter((pl.col("family") == family) & (pl.col("month") == date(2027, 1, 1)))
    assert january["adjustment_requested"].sum() == pytest.approx(0.125 * january["base"].sum(), rel=1e-12)
    assert set(january["adjustment_reasons"].to_list()) == {"Retailer promotion (Sales)"}
    delisted = after.filter((pl.col("sku") == sku) & (pl.col("month") == date(2027, 2, 1)))
    assert delisted["adjustment_requested"].to_list() == [-37.25]
    assert delisted["planned_units"][0] == pytest.approx(max(0.0, delisted["base"][0] - 37.25), abs=1e-9)
    untouched = after.filter(~(((pl.col("family") == family) & (pl.col("month") == date(2027, 1, 1)))
                               | ((pl.col("sku") == sku) & (pl.col("month") == date(2027, 2, 1)))))
    assert untouched["adjustment_requested"].abs().max() == 0
    assert (untouched["planned_units"] - untouched["base"]).abs().max() < 1e-9

    # Exported again, the sheet is pre-filled with those requests (as units per SKU) for the next cycle; read
    # back unchanged, it asks for the same changes.
    again = db_path.parent / "again.xlsx"
    assert run_cli("export", "--db", db_path, "--cycle", SMALL_CYCLE, "--xlsx", again).code == 0
    from sop_pipeline.demand.adjustments import load_adjustments

    prefilled = load_adjustments(again)
    requested = after.filter(pl.col("adjustment_requested") != 0)
    assert prefilled.height == requested.height
    assert sorted(zip(prefilled["sku"], prefilled["units"])) == sorted(zip(requested["sku"], requested["adjustment_requested"]))


def test_a_workbook_edited_into_nonsense_names_sheet_row_and_column(exported, run_cli, small_sales, tmp_path):
    db_path, path = exported
    rewrite_adjustments(path, [
        {"family": "Cookware", "sku": None, "month": "someday", "units": "lots", "percent": None,
         "reason": None, "author": None},
    ])
    before = snapshot(db_path)
    settings = write_settings(tmp_path, small_sales, adjustments=str(path))
    result = run_cli("run", "--config", settings, "--db", db_path, "--cycle", SMALL_CYCLE)
    assert result.code == 2, result.text
    text = " ".join(result.err.split())
    assert "sheet 'Adjustments'" in text
    assert "row 2, column month" in text and "row 2, column units" in text and "row 2, column reason" in text
    assert snapshot(db_path) == before


def test_export_of_a_cycle_that_is_not_published(published_copy, run_cli, tmp_path):
    result = run_cli("export", "--db", published_copy, "--cycle", "2025-01", "--xlsx", tmp_path / "x.xlsx")
    assert result.code == 2 and "has not been published" in result.err
    assert not (tmp_path / "x.xlsx").exists()
