"""All Dagster definitions of the project (`dagster dev` finds them via pyproject's [tool.dagster]).

Assets and checks are loaded from the `sop_pipeline/defs/` package, the way the model Dagster
projects load their `defs/` folder: every asset and check at module scope in a module below it is
found, so a new stage's module needs no line here. (Not `dg.load_from_defs_folder`: it finds the
project by its pyproject.toml at run time, which an installed wheel does not carry; see
docs/contributing.md, "The Dagster shell".)
"""

import dagster as dg

from sop_pipeline import defs as stages
from sop_pipeline.defs.jobs import monthly_cycle_job, monthly_cycle_schedule
from sop_pipeline.defs.resources import default_resources

defs = dg.Definitions(
    assets=dg.load_assets_from_package_module(stages),
    asset_checks=dg.load_asset_checks_from_package_module(stages),
    jobs=[monthly_cycle_job],
    schedules=[monthly_cycle_schedule],
    resources=default_resources(),
    # DuckDB allows one writing process: steps run in the run's own process, one after another.
    executor=dg.in_process_executor,
)
