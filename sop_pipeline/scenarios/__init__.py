"""Scenarios and what-if: the published plan beside changed demand or planning settings, in money.

`plan.py` applies a scenario (demand changes, planning overrides) to a cycle's demand plan and re-plans
supply with the supply core; `compare.py` turns the plans into the KPI table the S&OP meeting reads.
Plain functions on Polars frames; no Dagster.
"""
