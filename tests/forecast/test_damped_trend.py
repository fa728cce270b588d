"""Damped-trend configurations (`ProphetConfig.damping`): a forecast of the parent's own fit whose trend
steps shrink by phi per month. Checked against stock Prophet's fitted parameters and arithmetic here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sop_pipeline.forecasting.exact as exact
from sop_pipeline.common.months import month_array
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.fitting import FitTask, ProphetConfig, _build_model, fit_chunk, fit_task, quiet_stan
from sop_pipeline.forecasting.models import model_configs


def _series(n: int = 72, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (100 + 1.5 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 3, n)


def _task(y: np.ndarray, config: ProphetConfig, h: int = 18, key: str = "k") -> FitTask:
    start = 2014 * 12
    return FitTask(key=key, series_id="s", stage="origin1", months=month_array(start, len(y)), y=y,
                   future=month_array(start + len(y), h), config=config)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize("phi", [0.0, 0.9])
def test_damped_forecast_is_prophets_trend_damped_by_hand(mode, phi):
    """Stock Prophet (CmdStan): its last trend value, its final rate k + sum(delta) in its own scaled
    time, each future month's step that rate times the month's scaled length, times phi^h; Prophet's
    own seasonal terms on top (multiplicative: trend * (1 + terms))."""
    from prophet import Prophet

    quiet_stan()
    y = _series()
    task = _task(y, ProphetConfig(mode, 0.05, name="d", damping=phi))
    ours = fit_task(task)
    model = Prophet(yearly_seasonality=10, weekly_seasonality=False, daily_seasonality=False,
                    uncertainty_samples=0, changepoint_prior_scale=0.05, seasonality_mode=mode)
    ds = pd.to_datetime(np.concatenate([task.months, task.future]))
    model.fit(pd.DataFrame({"ds": ds[: len(y)], "y": y}))
    frame = model.predict(pd.DataFrame({"ds": ds}))
    rate = float(model.params["k"][0, 0] + model.params["delta"][0].sum())
    t = ((ds - model.start) / model.t_scale).to_numpy(float)
    steps = rate * np.diff(t[len(y) - 1:]) * model.y_scale
    trend_last = frame["trend"].to_numpy()[len(y) - 1]
    held = trend_last + np.cumsum(phi ** np.arange(1, len(steps) + 1) * steps)
    future = frame.iloc[len(y):]
    if mode == "multiplicative":
        expected = held * (1 + future["multiplicative_terms"].to_numpy()) + future["additive_terms"].to_numpy()
    else:
        expected = held + future["additive_terms"].to_numpy()
    assert ours.engine.startswith("exact")
    np.testing.assert_allclose(ours.yhat, expected, rtol=2e-3)
    # and it is not Prophet's straight extrapolation: the damping is there
    assert np.abs(ours.yhat - future["yhat"].to_numpy()).max() > 0.01 * trend_last


def test_phi_one_is_prophets_own_forecast_and_phi_zero_holds_the_last_trend():
    y = _series()
    parent = fit_task(_task(y, ProphetConfig("multiplicative", 0.05, name="p")))
    one = fit_task(_task(y, ProphetConfig("multiplicative", 0.05, name="d1", damping=1.0)))
    np.testing.assert_allclose(one.yhat, parent.yhat, rtol=1e-12)
    task = _task(y, ProphetConfig("multiplicative", 0.05))
    fit = exact.SharedDesign(_build_model(task.config, task.months, task.future), task.months, task.future).fit(y)
    zero = fit_task(_task(y, ProphetConfig("multiplicative", 0.05, name="d0", damping=0.0)))
    # trend held at its last history month, the seasonal factor as Prophet's
    np.testing.assert_allclose(zero.yhat, fit.trend[len(y) - 1] * fit.factor[len(y):], rtol=1e-9)
    assert np.ptp(fit.trend[len(y):]) > 1.0  # the parent's trend does move


def test_a_damped_configuration_shares_its_parents_solve(solve_rows):
    """One batch, parent and damped children: one solve per series, the forecasts those of separate fits."""
    series = [_series(seed=s) for s in (1, 2)]
    configs = [ProphetConfig("additive", 0.3, name="p"), ProphetConfig("additive", 0.3, name="d9", damping=0.9),
               ProphetConfig("additive", 0.3, name="d0", damping=0.0)]
    tasks = [_task(y, c, key=f"{i}|{c.name}") for i, y in enumerate(series) for c in configs]
    batched = fit_chunk(tasks)
    assert solve_rows == [2]
    for task, result in zip(tasks, batched, strict=True):
        np.testing.assert_allclose(result.yhat, fit_task(task).yhat, rtol=1e-9)
    assert not np.allclose(batched[0].yhat, batched[1].yhat)


def test_auto_names_the_damped_configurations_after_their_parents():
    configs = {c.name: c for c in model_configs(ForecastSettings(models="auto"))}
    # (damped and level-corrected ones are named in test_level_correction.py)
    damped = [c for c in configs.values() if c.damping is not None and c.level_months is None]
    assert damped
    for c in damped:
        parent = configs[c.name.rsplit("_damped", 1)[0]]
        assert c.name == f"{parent.name}_damped{c.damping:g}"
        assert (c.seasonality_mode, c.changepoint_prior_scale, c.growth) == (
            parent.seasonality_mode, parent.changepoint_prior_scale, parent.growth)


def test_three_distinct_configurations_are_always_published_as_their_mean():
    """combine_models 3 and three distinct configurations (one a damped child in a `models` list): the
    family publishes mean(a, b, c), whatever each one's own backtest, and it is the mean of each alone."""
    from datetime import date

    import polars as pl

    from sop_pipeline.forecasting import forecast_demand

    y = _series(84, seed=5)
    months = pl.date_range(date(2012, 1, 1), date(2018, 12, 1), "1mo", eager=True)
    history = pl.DataFrame({"family": "F", "sku": "F", "month": months, "units": y})
    specs = [{"name": "a"}, {"name": "b", "seasonality_mode": "multiplicative"},
             {"name": "c", "damping": 0.5}]

    def run(models, combine):
        settings = ForecastSettings(models=models, workers=1, horizon_months=6, warm_start=False,
                                    combine_models=combine, backtest_months=6)
        return forecast_demand(history, settings, date(2019, 1, 1)).forecast.filter(
            pl.col("level") == "family").sort("month")

    family = run(specs, 3)
    assert family["model"][0] == "mean(a, b, c)"
    alone = [run([s], 1)["yhat"].to_numpy() for s in specs]
    np.testing.assert_allclose(family["yhat"].to_numpy(), np.mean(alone, axis=0), rtol=1e-9)
    assert not np.allclose(alone[0], alone[2])  # the damped child is its own forecast
