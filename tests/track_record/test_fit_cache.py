"""The backfill's reuse of whole backtest origins (forecasting/fit_cache.py): the key holds what determines an
origin's fits and not its name, a reused origin is bit for bit a fresh fit of it, and old origins are let go."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.synthetic import synthetic_history
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.backtest import backtest_cuts
from sop_pipeline.forecasting.classification import build_view, prepare
from sop_pipeline.forecasting.executor import run_fits
from sop_pipeline.forecasting.fit_cache import OriginCache, fit_origins, origin_key, reusing_origins
from sop_pipeline.forecasting.models import model_configs

SETTINGS = ForecastSettings(horizon_months=6, backtest_months=6, backtest_origins=3, backtest_step_months=1, workers=1,
                            min_history_months=24, min_nonzero_months=12, models="auto")


def _origins(n_months: int) -> list[list]:
    """The backtest tasks of a cycle whose history has `n_months` months (of one fixed series of months)."""
    history = synthetic_history(n_skus=4, n_months=40, n_families=2, seed=11)
    full = build_view(history).truncated(n_months)
    configs = model_configs(SETTINGS)
    return [prepare(full.truncated(n_train), SETTINGS, f"origin{j + 1}", scored, lambda _sid: configs, {}).tasks
            for j, (n_train, scored) in enumerate(backtest_cuts(full.n_months, SETTINGS))]


@pytest.fixture(scope="module")
def cycles():
    """Two consecutive cycles' origins: the later one's first two are the earlier one's last two, renamed."""
    return _origins(38), _origins(39)


def test_the_key_is_the_origins_content_not_its_name(cycles):
    earlier, later = cycles
    assert [t.stage for t in later[0]] != [t.stage for t in earlier[1]]
    assert len(earlier) == len(later) == SETTINGS.backtest_origins
    for j in range(len(later) - 1):  # one month apart: the later cycle's origin j is the earlier's j + 1
        assert origin_key(later[j], 1, "local") == origin_key(earlier[j + 1], 1, "local")
    assert origin_key(later[-1], 1, "local") not in {origin_key(o, 1, "local") for o in earlier}

    tasks = earlier[1]
    changed_value = [dataclasses.replace(tasks[0], y=tasks[0].y + np.eye(1, len(tasks[0].y), 3)[0]), *tasks[1:]]
    changed_config = [dataclasses.replace(tasks[0], config=dataclasses.replace(tasks[0].config,
                                                                               changepoint_range=0.9)), *tasks[1:]]
    base = origin_key(tasks, 1, "local")
    for other in (origin_key(changed_value, 1, "local"), origin_key(changed_config, 1, "local"),
                  origin_key(tasks, 2, "local"),  # the workers cut the tasks into other batches
                  origin_key(tasks[::-1], 1, "local"), origin_key(tasks[:-1], 1, "local")):
        assert other != base


def test_a_reused_origin_is_a_fresh_fit_of_it_under_the_new_names(cycles):
    earlier, later = cycles
    cache = OriginCache()
    with reusing_origins(cache):
        fit_origins([t for o in earlier for t in o], workers=1)
        assert cache.cycle_done().origins_fitted == 3
        reused = fit_origins([t for o in later for t in o], workers=1)
    count = cache.cycle_done()
    assert (count.origins_reused, count.origins_fitted) == (2, 1)
    assert count.reused == len(later[0]) + len(later[1]) and count.fitted == len(later[2])

    fresh = {}  # each origin of the later cycle fitted alone, no cache
    for origin in later:
        fresh |= run_fits(origin, workers=1)
    assert set(reused) == set(fresh) == {t.key for o in later for t in o}
    for key, result in fresh.items():
        got = reused[key]
        assert (got.key, got.stage, got.series_id, got.model) == (result.key, result.stage, result.series_id,
                                                                  result.model)
        assert np.array_equal(got.yhat, result.yhat) and got.sigma == result.sigma, key
        assert got.params_json == result.params_json


def test_no_cache_outside_a_backfill_and_old_origins_are_let_go(cycles):
    earlier, later = cycles
    cache = OriginCache()
    fit_origins(earlier[0], workers=1)  # not within `reusing_origins`: nothing kept
    assert len(cache) == 0
    with reusing_origins(cache):
        fit_origins([t for o in earlier for t in o], workers=1)
        cache.cycle_done()
        assert len(cache) == 3
        fit_origins([t for o in later for t in o], workers=1)
        cache.cycle_done()
    # The later cycle's oldest origin is the earlier one's second: the earlier one's first cannot come back.
    assert len(cache) == 3
    assert cache.get(origin_key(earlier[0], 1, "local"), earlier[0]) is None
