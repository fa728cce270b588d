"""The monthly plan-cycle job and its schedule."""

import dagster as dg

from sop_pipeline.defs.partitions import plan_cycles

monthly_cycle_job = dg.define_asset_job(
    "sop_monthly_cycle",
    selection=dg.AssetSelection.all(),
    partitions_def=plan_cycles,
    description="The whole S&OP graph for one plan cycle: ingest, forecast, plan, publish.",
)

# On the 2nd of each month, plan the current month from the history that closed with last month.
monthly_cycle_schedule = dg.build_schedule_from_partitioned_job(
    monthly_cycle_job, day_of_month=2, hour_of_day=6, name="sop_monthly_cycle_schedule",
)
