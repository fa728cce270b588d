"""Plausibility limits shared by every reader of numbers (sales rows, planner files, problems)."""

from datetime import date

# No plan or sales row has a figure this large: beyond it a value is a typo or an overflow (1e308),
# and it would leave the solver with numbers it cannot scale (HiGHS treats 1e20 as infinite).
MAX_VALUE = 1e12
# An older sale is a typo (0204 for 2024), and would plan centuries of zeros.
EARLIEST_SALE = date(1900, 1, 1)
