"""Month arithmetic: every month is the date of its first day.

Months as integers (`year * 12 + month - 1`) keep the arithmetic exact and vectorisable; one place
for it, so a cycle, a horizon and a file's `YYYY-MM` cell all count months the same way.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

import numpy as np

_MONTH = re.compile(r"(\d{4})-(\d{1,2})(?:-01)?")
_MONTH_RANGE = re.compile(r"(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})")


def month_number(day: date) -> int:
    """The month of `day` as an integer (year * 12 + month - 1)."""
    return day.year * 12 + day.month - 1


def month_of_number(number: int) -> date:
    """The first day of the month numbered `number` (inverse of `month_number`)."""
    return date(int(number) // 12, int(number) % 12 + 1, 1)


def add_months(month: date, count: int) -> date:
    """The month `count` months after `month` (before it when negative)."""
    return month_of_number(month_number(month) + count)


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end`."""
    return month_number(end) - month_number(start)


def month_range(text: str) -> tuple[date, date]:
    """`"YYYY-MM..YYYY-MM"` (both ends included) as the first days of its first and last month."""
    match = _MONTH_RANGE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a month range: write YYYY-MM..YYYY-MM, e.g. 2027-03..2027-05")
    y1, m1, y2, m2 = (int(g) for g in match.groups())
    if not (1 <= m1 <= 12 and 1 <= m2 <= 12):
        raise ValueError(f"{text!r} names a month that does not exist")
    start, end = date(y1, m1, 1), date(y2, m2, 1)
    if start > end:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def month_array(first_number: int, count: int) -> np.ndarray:
    """`count` consecutive months from the month numbered `first_number`, as datetime64[D]."""
    return np.array([month_of_number(first_number + i) for i in range(count)], dtype="datetime64[D]")


def month_end(month: date) -> date:
    """The last day of the month of `month`."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def month_label(month: date) -> str:
    """`YYYY-MM`, the way planners and the tables' period names write a month."""
    return f"{month:%Y-%m}"


def parse_month(text: str) -> date | None:
    """`YYYY-MM` (or `YYYY-MM-01`) as the first day of that month; None if it is not a month."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)
