"""One partition per monthly plan cycle, keyed by the cycle's first day (e.g. 2026-11-01).

docs/contracts.md, "Command line": any month after the first month of sales and at most 12 months past today can be
planned, histories from the 1990s (or the 1950s) too. The partitions therefore start in 1900, long
before any sales history a planner holds; `sop-pipeline run` checks the cycle against the sales
history itself. The UI lists partitions newest first, so the cycles in use stay at hand.
"""

import dagster as dg

FIRST_CYCLE = "1900-01-01"
# end_offset counts partitions past the last complete month: 13 reaches 12 months past this one,
# so a planner can prepare a plan up to a year ahead.
plan_cycles = dg.MonthlyPartitionsDefinition(start_date=FIRST_CYCLE, end_offset=13)
