"""The blocking data-quality suite on the raw sales history (Great Expectations' expectations, run in
DuckDB over `raw.sales_history` by common.validation; GX itself runs them on frames)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from sop_pipeline.common.limits import EARLIEST_SALE, MAX_VALUE
from sop_pipeline.common.validation import Rule, ValidationReport, expectations, validate_frames, validate_table

_EPOCH = date(1970, 1, 1)
# The problems name the settings that provide for blank rows (config.schema.SalesSettings).
BLANK_FAMILY = ("rows with no family (set sales.missing_family in sop.yaml, e.g. \"Unassigned\", to plan them as "
                "one family, or sales.drop_blank_rows: true to leave them out)")
BLANK_SKU = ("rows with no SKU (set sales.missing_sku in sop.yaml, e.g. \"Unassigned\", to plan them as one SKU per "
             "family, or sales.drop_blank_rows: true to leave them out)")


def _raw_sales_rules(cycle_end: date, allow_returns: bool) -> list[Rule]:
    E = expectations
    rules = [
        Rule(E.ExpectColumnValuesToNotBeNull(column="sale_date"), "date",
              "dates that cannot be read as dates (check sales.date_format)", ("sale_date_text",)),
        Rule(E.ExpectColumnValuesToBeBetween(column="sale_day", max_value=(cycle_end - _EPOCH).days),
              "date", f"sales dated after the plan cycle (after {cycle_end.isoformat()})", ("sale_date",)),
        Rule(E.ExpectColumnValuesToBeBetween(column="sale_day", min_value=(EARLIEST_SALE - _EPOCH).days),
              "date", f"sales dated before {EARLIEST_SALE.year} (a typo in the year?)", ("sale_date",)),
        Rule(E.ExpectColumnValuesToNotBeNull(column="units"), "units",
              "units that are not numbers", ("units_text",)),
        Rule(E.ExpectColumnValuesToNotBeNull(column="sku"), "sku", BLANK_SKU, ("sku",)),
        Rule(E.ExpectColumnValuesToNotBeNull(column="family"), "family", BLANK_FAMILY, ("family",)),
        Rule(E.ExpectColumnValuesToNotBeNull(column="revenue", row_condition='revenue_text.notnull()',
                                              condition_parser="pandas"),
              "revenue", "revenue that is not a number", ("revenue_text",)),
    ]
    rules += [
        Rule(E.ExpectColumnValuesToBeBetween(column=column, min_value=-MAX_VALUE, max_value=MAX_VALUE), column,
              f"{column} larger than {MAX_VALUE:g} in one row (a typo or an overflow)", (column,))
        for column in ("units", "revenue")
    ]
    if not allow_returns:
        rules.append(Rule(E.ExpectColumnValuesToBeBetween(column="units", min_value=0), "units",
                           "negative units (returns are not allowed: set sales.allow_returns: true to accept them)",
                           ("units",)))
    return rules


def validate_raw_sales(
    rows: Iterable[pd.DataFrame], cycle_end: date, allow_returns: bool, engine: str = "duckdb"
) -> ValidationReport:
    """The blocking suite on `raw.sales_history` for one plan cycle.

    `rows` is `ingest.load.raw_batches(conn, cycle, n)`: checked in DuckDB where the rows are (one scan
    whatever their number), or with `engine="gx"` by Great Expectations on its pandas chunks. Any other
    iterable of frames is checked chunk by chunk."""
    rules = _raw_sales_rules(cycle_end, allow_returns)
    relation = getattr(rows, "relation", None)
    if engine == "duckdb" and relation is not None:
        return validate_table(rows.conn, SUITE, relation, rows.params, rules, order_by=rows.order_by)
    return validate_frames(SUITE, rows, rules, engine=engine)


SUITE = "raw_sales_history"
