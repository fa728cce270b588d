"""The blocking data-quality suite on the raw sales history (Great Expectations, via common.validation)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd

from sop_pipeline.common.limits import EARLIEST_SALE, MAX_VALUE
from sop_pipeline.common.validation import Rule, ValidationReport, gx, validate_frames

_EPOCH = date(1970, 1, 1)
# The problems name the settings that provide for blank rows (config.schema.SalesSettings).
BLANK_FAMILY = ("rows with no family (set sales.missing_family in sop.yaml, e.g. \"Unassigned\", to plan them as "
                "one family, or sales.drop_blank_rows: true to leave them out)")
BLANK_SKU = ("rows with no SKU (set sales.missing_sku in sop.yaml, e.g. \"Unassigned\", to plan them as one SKU per "
             "family, or sales.drop_blank_rows: true to leave them out)")


def _raw_sales_rules(cycle_end: date, allow_returns: bool) -> list[Rule]:
    E = gx.expectations
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
    batches: Iterator[pd.DataFrame], cycle_end: date, allow_returns: bool
) -> ValidationReport:
    """The blocking suite on `raw.sales_history` for one plan cycle."""
    return validate_frames("raw_sales_history", batches, _raw_sales_rules(cycle_end, allow_returns))
