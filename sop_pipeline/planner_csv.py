"""Reading the small CSV files planners write by hand (new-product catalogue, consensus overrides).

Every cell is read as text and checked here, so a problem is reported with the file, its line
number (as an editor shows it: the header is line 1), the column, the value and what to write
instead. All problems of a file are reported at once, so the planner fixes it in one go.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl

from sop_pipeline.errors import InputDataError
from sop_pipeline.settings import MAX_VALUE, decode_utf8

_MONTH = re.compile(r"(\d{4})-(\d{1,2})(?:-01)?")
MAX_LISTED_PROBLEMS = 20


class Problems:
    """Problems found in one file, raised together as one InputDataError."""

    def __init__(self, path: str | Path, what: str):
        self.path = str(path)
        self.what = what
        self.items: list[str] = []

    def add(self, line: int | None, column: str | None, message: str) -> None:
        place = ", ".join(p for p in (f"line {line}" if line else "", f"column {column}" if column else "") if p)
        self.items.append(f"{place}: {message}" if place else message)

    def raise_if_any(self, fix: str) -> None:
        if not self.items:
            return
        listed = self.items[:MAX_LISTED_PROBLEMS]
        more = len(self.items) - len(listed)
        body = "\n".join(f"  - {item}" for item in listed) + (f"\n  - ... and {more} more" if more else "")
        raise InputDataError(f"The {self.what} has {len(self.items)} problem(s):\n{body}\n",
                             where=self.path, fix=fix)


def read_text_table(path: str | Path, what: str, required: tuple[str, ...],
                    optional: tuple[str, ...]) -> pl.DataFrame:
    """The file as text columns (blank cells are null), plus `line`; columns checked by name."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"The {what} file does not exist", where=str(path),
                             fix="Correct its path in sop.yaml, or remove the key to plan without it")
    raw = path.read_bytes()
    decode_utf8(raw, path, what, InputDataError)
    try:
        frame = pl.read_csv(raw, infer_schema=False)
    except pl.exceptions.NoDataError:
        frame = pl.DataFrame(schema={c: pl.String for c in required})
    except (pl.exceptions.ComputeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"The {what} is not a readable CSV file: {str(exc).splitlines()[0]}",
                             where=str(path), fix="Save it as comma-separated UTF-8 text with a header row") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    problems = Problems(path, what)
    unknown = [c for c in frame.columns if c not in required + optional]
    missing = [c for c in required if c not in frame.columns]
    allowed = ", ".join(required + optional)
    for column in unknown:
        problems.add(1, column, f"unknown column {column!r}; the columns are {allowed}")
    for column in missing:
        problems.add(1, column, f"required column {column!r} is missing")
    problems.raise_if_any("Correct the header row (line 1)")
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in frame.columns)
    frame = frame.with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                               for c in frame.columns)
    for column in optional:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))


def parse_month(text: str) -> date | None:
    """`YYYY-MM` (or `YYYY-MM-01`) as the first day of that month; None if it is not a month."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_number(text: str) -> float | None:
    """The cell as a number; None if it is not one, or not finite, or beyond `MAX_VALUE` in size."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if abs(value) <= MAX_VALUE else None  # NaN and inf fail the comparison


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (both first of month)."""
    return (end.year - start.year) * 12 + end.month - start.month
