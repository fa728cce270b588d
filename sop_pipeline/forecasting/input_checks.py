"""Checks on the demand history handed to the forecast: a clear error, before anything is fitted."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from sop_pipeline.common.errors import InputDataError


def validate_history(history: pl.DataFrame, cycle: date) -> pl.DataFrame:
    """Check the input and return it with `month` as a Date column."""
    where = "demand history"
    if not isinstance(cycle, date) or isinstance(cycle, datetime) or cycle.day != 1:
        raise InputDataError(f"The plan cycle {cycle!r} is not the first day of a month",
                             where="plan cycle", fix="Pass the cycle as date(YYYY, MM, 1)")
    missing = [c for c in ("family", "sku", "month", "units") if c not in history.columns]
    if missing:
        raise InputDataError(f"The demand history lacks column(s) {', '.join(missing)}", where=where,
                             fix="Provide family, sku, month, units (and revenue) per SKU and month")
    month_type = history.schema["month"]
    if not (month_type == pl.Date or isinstance(month_type, pl.Datetime)):
        raise InputDataError(f"The month column is {month_type}, not a date", where=where,
                             fix="Pass months as dates (the first day of each month)")
    history = history.with_columns(pl.col("month").cast(pl.Date))
    if history.height == 0:
        raise InputDataError("The demand history is empty", where=where,
                             fix="Check the sales files and their date range")
    for column in ("family", "sku", "month", "units"):
        nulls = history.filter(pl.col(column).is_null())
        if nulls.height:
            row = nulls.row(0, named=True)
            raise InputDataError(f"{nulls.height} row(s) have no {column}",
                                 where=f"{where}, e.g. family={row['family']!r}, sku={row['sku']!r}",
                                 fix=f"Fill or drop rows without {column}")
    not_first = history.filter(pl.col("month").dt.day() != 1)
    if not_first.height:
        row = not_first.row(0, named=True)
        raise InputDataError(f"{not_first.height} row(s) have a month that is not the first day of a month",
                             where=f"{where}, e.g. sku={row['sku']!r}, month={row['month']}",
                             fix="Bucket the history to months (first day of each month) before forecasting")
    late = history.filter(pl.col("month") >= cycle)
    if late.height:
        row = late.row(0, named=True)
        raise InputDataError(
            f"The demand history has {late.height} row(s) in or after the plan cycle {cycle:%Y-%m}",
            where=f"{where}, e.g. sku={row['sku']!r}, month={row['month']}",
            fix="Forecast a later cycle, or drop the months that are not history yet")
    dupes = history.group_by("family", "sku", "month").len().filter(pl.col("len") > 1)
    if dupes.height:
        row = dupes.row(0, named=True)
        raise InputDataError(f"{dupes.height} family/sku/month combination(s) appear more than once",
                             where=f"{where}, e.g. sku={row['sku']!r}, month={row['month']}",
                             fix="Aggregate the history to one row per family, SKU and month")
    split = history.group_by("sku").agg(pl.col("family").n_unique().alias("n")).filter(pl.col("n") > 1)
    if split.height:
        raise InputDataError(f"SKU {split['sku'][0]!r} belongs to more than one family", where=where,
                             fix="Give each SKU a single family in the sales files")
    return history
