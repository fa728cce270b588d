"""Warm start on real sales: next cycle's fit from last cycle's optimum is as good as a cold fit.

A warm fit runs BFGS from the previous cycle's parameters instead of Prophet's Newton from its
default start (see `fitting`). These tests hold it to the cold fit on data nobody here made:
the optimum it reaches (Stan's log posterior) and the accuracy of what it forecasts.
"""

import json
from datetime import date

import numpy as np
import polars as pl
import pytest

from benchmarks.synthetic import synthetic_history
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand
from sop_pipeline.forecasting.fitting import FitTask, ProphetConfig, fit_series, init_worker
from tests.support.real_data import air_passengers_monthly, superstore_monthly, superstore_region_subcategory_monthly

HOLDOUT = 12


def _monthly_series() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Superstore's 68 Region x Sub-Category series and the air passengers, as (months, units).

    All long enough (36+ months before the holdout) that one more month keeps Prophet's 25
    changepoints, so last cycle's parameters fit this cycle's model."""
    series = {f"superstore {name}": frame for name, frame in superstore_region_subcategory_monthly().items()}
    series["air passengers"] = air_passengers_monthly()
    return {name: (frame["month"].to_numpy().astype("datetime64[D]"), frame["units"].to_numpy().astype(float))
            for name, frame in series.items()}


def _task(name: str, months: np.ndarray, units: np.ndarray, init: dict | None = None) -> FitTask:
    future = (months[-1].astype("datetime64[M]") + np.arange(1, HOLDOUT + 1)).astype("datetime64[D]")
    return FitTask(key=name, series_id=name, stage="final", months=months, y=units, future=future, init=init)


def test_a_start_stan_cannot_use_is_refitted_cold():
    init_worker()
    history = synthetic_history(1, 40, 1, seed=3)
    months, units = history["month"].to_numpy().astype("datetime64[D]"), history["units"].to_numpy()
    config = ProphetConfig()
    last_cycle = json.loads(fit_series(_task("a", months[:-1], units[:-1]), config).params_json)
    cold = fit_series(_task("a", months, units), config)
    warm = fit_series(_task("a", months, units, last_cycle), config)
    assert warm.warm_started and warm.log_posterior == pytest.approx(cold.log_posterior, abs=0.5)

    broken = {**last_cycle, "delta": [1e300] * len(last_cycle["delta"])}  # log posterior not finite
    redone = fit_series(_task("a", months, units, broken), config)
    assert redone.method == "prophet" and not redone.warm_started and redone.note is None
    np.testing.assert_array_equal(redone.yhat, cold.yhat)


@pytest.mark.slow
def test_warm_fit_matches_cold_fit_on_real_series():
    init_worker()
    config = ProphetConfig()
    lp_gap, error_cold, error_warm, actual_sum, wape_cold, wape_warm = [], 0.0, 0.0, 0.0, [], []
    for name, (months, units) in _monthly_series().items():
        train_months, train, actual = months[:-HOLDOUT], units[:-HOLDOUT], units[-HOLDOUT:]
        # Last cycle saw one month less; this cycle fits cold, and warm from last cycle's optimum.
        last_cycle = fit_series(_task(name, train_months[:-1], train[:-1]), config)
        cold = fit_series(_task(name, train_months, train), config)
        warm = fit_series(_task(name, train_months, train, json.loads(last_cycle.params_json)), config)
        assert cold.method == warm.method == "prophet", name
        assert warm.warm_started and not cold.warm_started, name
        lp_gap.append(warm.log_posterior - cold.log_posterior)
        abs_cold = np.abs(np.clip(cold.yhat, 0, None) - actual).sum()
        abs_warm = np.abs(np.clip(warm.yhat, 0, None) - actual).sum()
        error_cold, error_warm, actual_sum = error_cold + abs_cold, error_warm + abs_warm, actual_sum + actual.sum()
        wape_cold.append(abs_cold / actual.sum())
        wape_warm.append(abs_warm / actual.sum())

    lp_gap = np.array(lp_gap)
    assert len(lp_gap) == 69
    # Near the same optimum (see the numbers in the closing lines of `fitting`'s docstring).
    assert np.median(lp_gap) > -0.2, np.sort(lp_gap)[:10]
    assert lp_gap.min() > -3.0, np.sort(lp_gap)[:10]
    # And as accurate out of sample, pooled and averaged per series.
    assert error_warm / actual_sum <= error_cold / actual_sum + 0.002
    assert np.mean(wape_warm) <= np.mean(wape_cold) + 0.006


@pytest.mark.slow
def test_next_cycle_warm_start_on_superstore_keeps_the_backtest():
    history = superstore_monthly()
    settings = ForecastSettings(horizon_months=12, backtest_months=12, approach="best", workers=2)
    last_cycle = forecast_demand(history.filter(pl.col("month") < date(2017, 12, 1)), settings, date(2017, 12, 1))
    cold = forecast_demand(history, settings, date(2018, 1, 1))
    warm = forecast_demand(history, settings, date(2018, 1, 1), warm_start_params=last_cycle.params)

    assert cold.stats["warm_started"] == 0
    # Every series fitted last cycle with the same configuration whose model keeps its shape
    # (changepoint count) starts warm.
    same_shape = warm.params.join(last_cycle.params, on=["series_id", "stage", "n_changepoints", "model"], how="semi")
    # (0.6, not all: a published combination's members may change from cycle to cycle.)
    assert warm.stats["warm_started"] == same_shape.height >= 0.6 * warm.params.height

    def pooled_wape(result):
        family = result.accuracy.filter((pl.col("level") == "family") & (pl.col("method") == "chosen"))
        return family["sum_abs_error"].sum() / family["sum_actual"].sum()

    assert abs(pooled_wape(warm) - pooled_wape(cold)) < 0.01
    total = {name: r.forecast.filter(pl.col("level") == "total")["yhat"].sum() for name, r in
             (("cold", cold), ("warm", warm))}
    assert abs(total["warm"] - total["cold"]) <= 0.03 * total["cold"]
