"""The monthly plan-cycle job and its schedule."""

import dagster as dg

from sop_pipeline.defs.partitions import plan_cycles

JOB_NAME = "sop_monthly_cycle"  # `sop-pipeline run` executes this job
monthly_cycle_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.all(),
    partitions_def=plan_cycles,
    description="The whole S&OP graph for one plan cycle: ingest, forecast, plan, publish, report.",
)


@dg.schedule(cron_schedule="0 6 2 * *", job=monthly_cycle_job, name="sop_monthly_cycle_schedule",
             execution_timezone="UTC")
def monthly_cycle_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """On the 2nd of each month, plan the current month from the history that closed with last month."""
    cycle = context.scheduled_execution_time.date().replace(day=1)
    return dg.RunRequest(run_key=cycle.isoformat(), partition_key=cycle.isoformat())
