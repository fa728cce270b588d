"""Accuracy measures against small cases worked by hand."""

import numpy as np
import pytest

from sop_pipeline.forecasting import bias, mape, mase, seasonal_naive, wape

ACTUAL = np.array([10.0, 0.0, 20.0, 30.0])
FORECAST = np.array([12.0, 5.0, 15.0, 30.0])  # errors +2, +5, -5, 0


def test_wape_mape_bias_by_hand():
    assert wape(ACTUAL, FORECAST) == pytest.approx(12 / 60)
    # MAPE skips the zero actual: (2/10 + 5/20 + 0/30) / 3
    assert mape(ACTUAL, FORECAST) == pytest.approx((0.2 + 0.25 + 0.0) / 3)
    assert bias(ACTUAL, FORECAST) == pytest.approx(2 / 60)


def test_mase_lag_one_for_short_history():
    train = np.array([10.0, 12.0, 9.0, 13.0])  # month-to-month changes 2, 3, 4: scale 3
    assert mase(ACTUAL, FORECAST, train) == pytest.approx((12 / 4) / 3)


def test_mase_lag_twelve_for_long_history():
    train = np.array(list(range(13)) + [20.0])  # lag-12 changes: 12 - 0, 20 - 1: scale 15.5
    assert mase(ACTUAL, FORECAST, train) == pytest.approx(3 / 15.5)


def test_undefined_measures_are_none():
    zeros = np.zeros(3)
    assert wape(zeros, np.ones(3)) is None
    assert mape(zeros, np.ones(3)) is None
    assert bias(zeros, np.ones(3)) is None
    assert mase(np.ones(3), np.ones(3), np.full(5, 7.0)) is None  # flat history: no scale
    assert mase(np.ones(3), np.ones(3), np.array([4.0])) is None  # one month: no scale


def test_seasonal_naive_repeats_last_year():
    train = np.arange(24.0)
    assert seasonal_naive(train, 14).tolist() == list(range(12, 24)) + [12, 13]


def test_seasonal_naive_short_history_repeats_last_month():
    assert seasonal_naive(np.array([5.0, 7.0]), 3).tolist() == [7.0, 7.0, 7.0]
