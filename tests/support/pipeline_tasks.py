"""The pipeline's own fitting tasks on the shared data sets and the demo, as `forecast_demand` builds them
(used by the exactness and batched-fit tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import polars as pl

from sop_pipeline.common.months import add_months, month_number
from sop_pipeline.common.resources import DEMO_DIR, DEMO_SETTINGS
from sop_pipeline.config.loading import load_settings
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.backtest import backtest_cuts
from sop_pipeline.forecasting.classification import build_view, prepare
from sop_pipeline.forecasting.fitting import FitTask
from sop_pipeline.forecasting.input_checks import validate_history
from sop_pipeline.forecasting.models import model_configs
from tests.support.real_data import single_series_monthly, superstore_monthly, walmart_store_monthly

# --------------------------------------------------------------------------- the data sets


def demo_monthly() -> pl.DataFrame:
    """The demo's daily sales as the ingest buckets them (the pipeline zero-fills the gaps itself)."""
    daily = pl.read_csv(DEMO_DIR / "sales_history.csv", try_parse_dates=True)
    return daily.group_by("family", "sku", month=pl.col("date").dt.truncate("1mo")).agg(pl.col("units").sum())


def history_of(name: str) -> pl.DataFrame:
    if name == "demo":
        return demo_monthly()
    if name == "superstore":
        return superstore_monthly()
    if name == "walmart":
        return walmart_store_monthly()
    return single_series_monthly(name)


def settings_of(name: str) -> ForecastSettings:
    if name == "demo":
        return load_settings(DEMO_SETTINGS).forecast.model_copy(update={"workers": 1})
    return ForecastSettings(workers=1)


def cycle_of(history: pl.DataFrame) -> date:
    return add_months(history["month"].max(), 1)


# --------------------------------------------------------------------------- the pipeline's tasks


def pipeline_tasks(history: pl.DataFrame, settings: ForecastSettings, cycle: date,
                   configs_for: Callable[[str], list[str]] | None = None) -> tuple[list[FitTask], list[list[FitTask]]]:
    """The final stage's tasks in every configuration (the pipeline fits only the backtest's choice
    there) and each backtest origin's, as `forecast_demand` builds them (cold: no warm start). Every
    configuration at every origin, unless `configs_for(series_id)` names the configurations of a
    series (the race's finalists, at the origins after its first round)."""
    full = build_view(validate_history(history, cycle))
    configs = model_configs(settings)
    last_month = full.first_month + full.n_months - 1
    n_future = month_number(cycle) - last_month - 1 + settings.horizon_months

    def of(series_id: str) -> list:
        return configs if configs_for is None else [c for c in configs if c.name in configs_for(series_id)]

    # The origins' fits keep their parameters here (the pipeline drops them): the tests score them.
    origins = [[replace(task, keep_params=True)
                for task in prepare(full.truncated(n_train), settings, f"origin{j + 1}", scored, of, {}).tasks]
               for j, (n_train, scored) in enumerate(backtest_cuts(full.n_months, settings))]
    return prepare(full, settings, "final", n_future, of, {}).tasks, origins


def members_of(model: str) -> list[str]:
    """The configurations behind a published model name: itself, or a combination's members
    (`mean(a, b)`, `median(a, b, c)`)."""
    for how in ("mean", "median"):
        if model.startswith(f"{how}(") and model.endswith(")"):
            return model[len(how) + 1:-1].split(", ")
    return [model]
