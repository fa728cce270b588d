"""One partition per monthly plan cycle, keyed by the cycle's first day (e.g. 2026-11-01)."""

import dagster as dg

# end_offset=1 makes the current month a partition, so the run on the 2nd plans the current month
# from the history that ended the day before.
plan_cycles = dg.MonthlyPartitionsDefinition(start_date="2000-01-01", end_offset=1)
