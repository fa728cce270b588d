"""The configurations beyond seasonality mode and prior scale (log scale, training window, changepoint
range) and forecast combination: each checked against Prophet itself or arithmetic written here."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import polars as pl
import pytest

from sop_pipeline.common.months import month_array
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand
from sop_pipeline.forecasting.fitting import FitTask, ProphetConfig, fit_task, quiet_stan
from tests.support.pipeline_tasks import members_of


def _series(n: int = 72, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.exp(4 + 0.01 * t + 0.3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.05, n))


def _task(y: np.ndarray, config: ProphetConfig, h: int = 12) -> FitTask:
    start = 2015 * 12
    return FitTask(key="k", series_id="s", stage="final", months=month_array(start, len(y)), y=y,
                   future=month_array(start + len(y), h), config=config)


def test_log_scale_forecast_is_prophets_on_the_log_back_transformed_with_the_bias_correction():
    """Stock Prophet (CmdStan) fitted on log(y): exp(yhat + s^2 / 2), s its in-sample residual deviation."""
    from prophet import Prophet

    quiet_stan()
    y = _series()
    task = _task(y, ProphetConfig("additive", 0.05, name="log", transform="log"))
    ours = fit_task(task)
    model = Prophet(yearly_seasonality=10, weekly_seasonality=False, daily_seasonality=False,
                    uncertainty_samples=0, changepoint_prior_scale=0.05)
    ds = pd.to_datetime(np.concatenate([task.months, task.future]))
    model.fit(pd.DataFrame({"ds": ds[: len(y)], "y": np.log(y)}))
    predicted = model.predict(pd.DataFrame({"ds": ds}))["yhat"].to_numpy()
    s2 = np.var(np.log(y) - predicted[: len(y)])
    expected = np.exp(predicted[len(y):] + s2 / 2)
    assert ours.method == "prophet" and ours.engine.startswith("exact")
    np.testing.assert_allclose(ours.yhat, expected, rtol=2e-3)
    assert s2 > 0 and not np.allclose(ours.yhat, np.exp(predicted[len(y):]), rtol=s2 / 4)  # the correction is there


def test_log_scale_falls_back_to_units_where_a_month_is_zero():
    y = _series()
    y[10] = 0.0
    log = fit_task(_task(y, ProphetConfig("additive", 0.05, name="log", transform="log")))
    units = fit_task(_task(y, ProphetConfig("additive", 0.05, name="units")))
    np.testing.assert_allclose(log.yhat, units.yhat, rtol=1e-9)


def test_changepoint_range_reaches_prophet():
    y = _series(96)
    late = fit_task(_task(y, ProphetConfig("additive", 0.3, name="r", changepoint_range=0.95)))
    early = fit_task(_task(y, ProphetConfig("additive", 0.3, name="e")))
    assert late.engine.startswith("exact") and not np.allclose(late.yhat, early.yhat)


def _history(y: np.ndarray) -> pl.DataFrame:
    months = pl.date_range(date(2012, 1, 1), date(2012 + (len(y) - 1) // 12, (len(y) - 1) % 12 + 1, 1), "1mo", eager=True)
    return pl.DataFrame({"family": "F", "sku": "F", "month": months, "units": y})


def test_training_window_fits_the_most_recent_years_only():
    """A window of 3 years on 8 years of history: the forecast is the one fitted on the last 36 months."""
    y = _series(96, seed=3)
    spec = {"name": "w", "seasonality_mode": "multiplicative", "window_years": 3}
    settings = ForecastSettings(models=[spec], workers=1, horizon_months=6, warm_start=False)
    published = forecast_demand(_history(y), settings, date(2020, 1, 1)).forecast
    family = published.filter(pl.col("level") == "family").sort("month")["yhat"].to_numpy()
    recent = _series(96, seed=3)[-36:]
    task = FitTask(key="k", series_id="s", stage="final", months=month_array(2017 * 12, 36), y=recent,
                   future=month_array(2020 * 12, 6), config=ProphetConfig("multiplicative", 0.05, name="w"))
    np.testing.assert_allclose(family, np.clip(fit_task(task).yhat, 0, None), rtol=1e-9)


def test_a_published_combination_is_the_mean_of_its_members_own_forecasts():
    """Three configurations, combine_models 3: where the backtest keeps a combination, the published
    number is the mean (or median) of its configurations' own published numbers (each run alone)."""
    rng = np.random.default_rng(7)
    t = np.arange(84)
    y = 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 8, 84)
    specs = [{"name": "a", "changepoint_prior_scale": 0.05}, {"name": "b", "seasonality_mode": "multiplicative"},
             {"name": "c", "changepoint_prior_scale": 0.5}]
    cycle = date(2019, 1, 1)

    def run(models, combine):
        settings = ForecastSettings(models=models, workers=1, horizon_months=6, warm_start=False,
                                    combine_models=combine, backtest_months=6)
        return forecast_demand(_history(y), settings, cycle)

    combined = run(specs, 3)
    family = combined.forecast.filter(pl.col("level") == "family").sort("month")
    model = family["model"][0]
    alone = {s["name"]: run([s], 1).forecast.filter(pl.col("level") == "family").sort("month")["yhat"].to_numpy()
             for s in specs}
    if model.startswith(("mean(", "median(")):
        members = members_of(model)
        assert 2 <= len(members) <= 3
        combine = np.median if model.startswith("median(") else np.mean
        np.testing.assert_allclose(family["yhat"].to_numpy(), combine([alone[m] for m in members], axis=0), rtol=1e-9)
    else:  # the best single configuration's backtest beat every mean: then it is published alone
        np.testing.assert_allclose(family["yhat"].to_numpy(), alone[model], rtol=1e-9)
    chosen = combined.accuracy.filter((pl.col("level") == "family") & (pl.col("method") == "chosen"))
    assert chosen["model"][0] == model


@pytest.mark.parametrize("bad", [{"transform": "sqrt"}, {"window_years": 1}, {"changepoint_range": 1.5}])
def test_new_model_keys_are_checked(bad):
    with pytest.raises(ValueError):
        ForecastSettings(models=[{"name": "a", **bad}])


def test_a_window_fitted_at_the_later_origins_only_does_not_break_the_choice():
    """A 8-year window on a history that passes 8 years between the backtest's origins."""
    y = _series(112, seed=5)  # origins at 90..100 months: the window is a candidate at the last two only
    specs = [{"name": "all", "seasonality_mode": "multiplicative"},
             {"name": "recent", "seasonality_mode": "multiplicative", "window_years": 8},
             {"name": "log", "transform": "log"}]
    settings = ForecastSettings(models=specs, workers=1, horizon_months=12, warm_start=False,
                                backtest_origins=6, backtest_step_months=2)
    result = forecast_demand(_history(y), settings, date(2021, 5, 1))
    chosen = result.accuracy.filter((pl.col("level") == "family") & (pl.col("method") == "chosen"))
    assert "recent" not in chosen["model"][0]  # scored on fewer origins: not comparable, not chosen
