"""One partition per monthly plan cycle, keyed by the cycle's first day (e.g. 2026-11-01)."""

import dagster as dg

# Cycles up to a year ahead exist, so a planner can prepare next month's plan before the month starts.
plan_cycles = dg.MonthlyPartitionsDefinition(start_date="2000-01-01", end_offset=12)
