"""Level-corrected configurations (`ProphetConfig.level_months`): the parent's own fit, its forecast
moved by the mean in-sample residual of the latest months. Checked against stock Prophet by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.fitting import ProphetConfig, fit_chunk, fit_task, level_corrected, quiet_stan
from sop_pipeline.forecasting.models import level_name, model_configs
from tests.forecast.test_damped_trend import _series, _task


def _lagging(n: int = 96, seed: int = 4) -> np.ndarray:
    """A seasonal series whose level jumps in its last fifth, where Prophet places no changepoint."""
    y = _series(n, seed)
    y[int(0.85 * n):] += 60.0
    return y


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_level_corrected_forecast_is_prophets_moved_by_its_last_years_mean_residual(mode):
    """Stock Prophet's own predict at the exact engine's optimum (a level jump makes the posterior
    multimodal, so CmdStan may stop at another optimum): its forecast plus the mean of y minus its
    fitted values over the last 12 months."""
    from prophet import Prophet

    quiet_stan()
    y = _lagging()
    task = _task(y, ProphetConfig(mode, 0.05, name="l", level_months=12))
    ours = fit_task(task)
    model = Prophet(yearly_seasonality=10, weekly_seasonality=False, daily_seasonality=False,
                    uncertainty_samples=0, changepoint_prior_scale=0.05, seasonality_mode=mode)
    ds = pd.to_datetime(np.concatenate([task.months, task.future]))
    model.fit(pd.DataFrame({"ds": ds[: len(y)], "y": y}))
    params = json.loads(ours.params_json)
    model.params = {name: np.atleast_2d(np.asarray(params[name], float)) for name in ("k", "m", "sigma_obs", "delta", "beta")}
    yhat = model.predict(pd.DataFrame({"ds": ds}))["yhat"].to_numpy()
    shift = np.mean(y[-12:] - yhat[len(y) - 12:len(y)])
    assert ours.engine.startswith("exact")
    assert abs(shift) > 1.0  # the trend lags the jump: the correction is there to be checked
    np.testing.assert_allclose(ours.yhat, yhat[len(y):] + shift, rtol=1e-6)


def test_level_corrected_is_the_parents_forecast_shifted_and_shares_its_solve(solve_rows):
    series = [_lagging(seed=s) for s in (1, 2)]
    configs = [ProphetConfig("multiplicative", 0.05, name="p"),
               ProphetConfig("multiplicative", 0.05, name="l12", level_months=12)]
    tasks = [_task(y, c, key=f"{i}|{c.name}") for i, y in enumerate(series) for c in configs]
    parent, corrected = fit_chunk(tasks)[:2]
    assert solve_rows == [2]  # one solve per series
    shift = corrected.yhat - parent.yhat
    np.testing.assert_allclose(shift, shift[0], rtol=1e-12)
    assert abs(shift[0]) > 1.0


def test_level_corrected_leaves_short_histories_and_no_months_alone():
    forecast, residuals = np.array([1.0, 2.0]), np.array([3.0, 3.0, 3.0])
    np.testing.assert_array_equal(level_corrected(forecast, residuals, None), forecast)
    np.testing.assert_array_equal(level_corrected(forecast, residuals, 12), forecast)
    np.testing.assert_allclose(level_corrected(forecast, np.array([0.0, 1.0, 2.0, 4.0]), 3), forecast + 7 / 3)


def test_auto_names_the_level_corrected_configurations_after_their_parents():
    configs = {c.name: c for c in model_configs(ForecastSettings(models="auto"))}
    corrected = [c for c in configs.values() if c.level_months is not None]
    assert corrected and any(c.damping is not None for c in corrected)
    for c in corrected:
        parent = configs[c.name.split("_damped")[0].split("_level")[0]]
        assert c.name == level_name(parent.name, c.damping, c.level_months)
        assert (parent.level_months, parent.damping) == (None, None)
        assert (c.seasonality_mode, c.changepoint_prior_scale, c.transform, c.growth) == (
            parent.seasonality_mode, parent.changepoint_prior_scale, parent.transform, parent.growth)
    assert level_name("additive_cps0.05", None, 12) == "additive_cps0.05_level12"
    assert level_name("additive_cps0.05", 0.8, 6) == "additive_cps0.05_damped0.8_level6"


def test_damped_and_level_corrected_is_the_damped_forecast_moved_by_the_parents_residual():
    """Both on one parent: the shift is the undamped fit's in-sample mean residual (damping changes
    the future only), added to the damped forecast."""
    y = _lagging()
    parent = fit_task(_task(y, ProphetConfig("additive", 0.05, name="p")))
    moved = fit_task(_task(y, ProphetConfig("additive", 0.05, name="l", level_months=6)))
    damped = fit_task(_task(y, ProphetConfig("additive", 0.05, name="d", damping=0.8)))
    both = fit_task(_task(y, ProphetConfig("additive", 0.05, name="dl", damping=0.8, level_months=6)))
    np.testing.assert_allclose(both.yhat - damped.yhat, moved.yhat - parent.yhat, rtol=1e-9)
    assert not np.allclose(both.yhat, moved.yhat)
