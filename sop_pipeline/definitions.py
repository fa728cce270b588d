"""All Dagster definitions of the project, in one place (`dagster dev` finds them via pyproject)."""

import dagster as dg

from sop_pipeline.defs.alignment import assets as alignment_assets
from sop_pipeline.defs.alignment import checks as alignment_checks
from sop_pipeline.defs.demand import assets as demand_assets
from sop_pipeline.defs.forecasting import assets as forecast_assets
from sop_pipeline.defs.forecasting import checks as forecast_checks
from sop_pipeline.defs.ingest import assets as ingest_assets
from sop_pipeline.defs.ingest import checks as ingest_checks
from sop_pipeline.defs.jobs import monthly_cycle_job, monthly_cycle_schedule
from sop_pipeline.defs.report import assets as report_assets
from sop_pipeline.defs.resources import default_resources
from sop_pipeline.defs.scenarios import assets as scenario_assets
from sop_pipeline.defs.scenarios import checks as scenario_checks
from sop_pipeline.defs.store import assets as publish_assets
from sop_pipeline.defs.supply import assets as planning_assets
from sop_pipeline.defs.supply import checks as planning_checks

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingest_assets, forecast_assets, demand_assets, planning_assets,
                                        scenario_assets, alignment_assets, publish_assets, report_assets]),
    asset_checks=dg.load_asset_checks_from_modules([ingest_checks, forecast_checks, planning_checks,
                                                    scenario_checks, alignment_checks]),
    jobs=[monthly_cycle_job],
    schedules=[monthly_cycle_schedule],
    resources=default_resources(),
    # DuckDB allows one writing process: steps run in the run's own process, one after another.
    executor=dg.in_process_executor,
)
