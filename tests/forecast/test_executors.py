"""The same forecast from every executor, and warm start from last cycle's parameters."""

from datetime import date

import polars as pl
import pytest

from benchmarks.synthetic import synthetic_history
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand

CYCLE = date(2026, 1, 1)
KEYS = ["level", "series_key", "month"]


def settings(**overrides) -> ForecastSettings:
    base = dict(horizon_months=6, backtest_months=6, workers=1)
    return ForecastSettings(**{**base, **overrides})


def max_difference(a: pl.DataFrame, b: pl.DataFrame, column: str = "yhat") -> float:
    joined = a.join(b, on=KEYS, suffix="_b", how="full", coalesce=True)
    assert joined.height == a.height == b.height
    return joined.select((pl.col(column) - pl.col(f"{column}_b")).abs().max()).item()


@pytest.fixture(scope="module")
def history():
    return synthetic_history(n_skus=8, n_months=36, n_families=2, seed=11)


@pytest.fixture(scope="module")
def local_result(history):
    return forecast_demand(history, settings(), CYCLE)


@pytest.mark.slow
def test_process_pool_and_dask_match_in_process(history, local_result):
    import multiprocessing

    from distributed import LocalCluster

    calls, children = [], set()
    # Pool processes of an earlier forecast may still be exiting (a released pool is not waited for).
    earlier = {child.pid for child in multiprocessing.active_children()}

    def progress(*args):
        calls.append(args)
        children.update(child.pid for child in multiprocessing.active_children() if child.pid not in earlier)

    pooled = forecast_demand(history, settings(workers=2), CYCLE, progress=progress)
    # Equal to rounding, relative to the forecast's size: the executors chunk the tasks differently, so a
    # series is solved in batches of other compositions, whose BLAS products round differently, and Newton
    # stops at a relative decrement of 1e-12 (exact.NEWTON_TOL), not at one bit pattern. A wrong task,
    # configuration or order moves a forecast by far more than 1e-9 of its size.
    same = 1e-9 * local_result.forecast.filter(pl.col("level") == "total")["yhat"].abs().mean()
    assert max_difference(local_result.forecast, pooled.forecast) < same
    fits = pooled.stats["series_fitted"] + pooled.stats["fallback_fits"]
    assert calls and calls[-1][0] == calls[-1][1] == fits  # every fit reported, against the right total
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    # The total is estimated until the published fits are known (each series' members: its best 3 and the
    # run's best 2, 3 to 5 fits): within 2% from the first report on (it grew by 4% counting one a series).
    assert abs(calls[0][1] - fits) <= 0.02 * fits
    assert len(children) == 1  # two workers: this process and one pool process

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = forecast_demand(
            history, settings(executor="dask", dask_address=cluster.scheduler_address), CYCLE)
    assert max_difference(local_result.forecast, on_dask.forecast) < same
    for column in ("yhat_lower", "yhat_upper"):
        assert max_difference(local_result.forecast, on_dask.forecast, column) < same
    assert on_dask.approach_by_family == local_result.approach_by_family


def test_warm_start_gives_equivalent_forecasts(history, local_result):
    warm = forecast_demand(history, settings(), CYCLE, warm_start_params=local_result.params)
    # The published fits start from last cycle's (the backtest origins' fits start cold). Last cycle's
    # parameters are kept once per series and stage: the members of a published combination whose
    # changepoints differ from them (a training window) start cold, so at least one fit per series warm-starts.
    # (Which configurations publish may differ: last cycle's choice is kept unless another is clearly better.)
    assert warm.params["series_id"].n_unique() == local_result.params["series_id"].n_unique() > 0
    assert warm.params["series_id"].n_unique() <= warm.stats["warm_started"] <= warm.params.height
    scale = local_result.forecast.filter(pl.col("level") == "total")["yhat"].mean()
    assert max_difference(local_result.forecast, warm.forecast) < 1e-3 * scale


def test_warm_start_only_when_changepoints_match(history, local_result):
    # Parameters fitted on 20 months have 15 changepoints; the 36-month series have 25.
    short = history.filter(pl.col("month") >= date(2024, 5, 1))
    short_params = forecast_demand(short, settings(), CYCLE).params
    assert set(short_params["n_changepoints"]) != set(local_result.params["n_changepoints"])
    result = forecast_demand(history, settings(), CYCLE, warm_start_params=short_params)
    assert result.stats["warm_started"] == 0
    assert max_difference(local_result.forecast, result.forecast) < 1e-9


def test_warm_start_can_be_switched_off(history, local_result):
    result = forecast_demand(history, settings(warm_start=False), CYCLE, warm_start_params=local_result.params)
    assert result.stats["warm_started"] == 0


def test_chunks_keep_every_task_once_in_order_and_end_one_by_one():
    from sop_pipeline.forecasting.executor import MAX_CHUNK, chunked

    tasks = list(range(283))  # chunking only slices: any items will do
    chunks = chunked(tasks, workers=2)
    assert [t for chunk in chunks for t in chunk] == tasks
    assert max(len(c) for c in chunks) == MAX_CHUNK
    assert [len(c) for c in chunks[-2 * MAX_CHUNK:]] == [1] * (2 * MAX_CHUNK)
    assert chunked([1, 2, 3], workers=4) == [[1], [2], [3]]
    assert chunked([], workers=2) == []


def _die() -> None:
    import os

    os._exit(3)


@pytest.mark.slow
def test_a_broken_pool_stops_the_forecast_with_its_error():
    from concurrent.futures.process import BrokenProcessPool

    import numpy as np

    from sop_pipeline.forecasting.executor import _fit_here_and_on_pool, _new_pool, chunked
    from sop_pipeline.forecasting.fitting import FitTask

    months = np.arange("2024-01", "2026-01", dtype="datetime64[M]").astype("datetime64[D]")
    future = np.arange("2026-01", "2026-07", dtype="datetime64[M]").astype("datetime64[D]")
    tasks = [FitTask(key=f"final|sku|{i}", series_id=f"sku|{i}", stage="final", months=months,
                     y=np.linspace(10, 30, len(months)) + i, future=future) for i in range(12)]
    pool = _new_pool(1)
    try:
        with pytest.raises(BrokenProcessPool):
            pool.submit(_die).result()  # the pool's process dies: every later submit fails
        with pytest.raises(BrokenProcessPool):
            list(_fit_here_and_on_pool(pool, 1, chunked(tasks, 2)))
    finally:
        pool.shutdown()


def test_exact_chunks_keep_batches_whole_and_end_in_small_pieces():
    import numpy as np

    from sop_pipeline.forecasting.executor import EXACT_TAIL, MAX_CHUNK_EXACT, chunked_exact
    from sop_pipeline.forecasting.fitting import FitTask, ProphetConfig, batch_key, chunk_order, pair_key

    def tasks_of(n_months: int, n: int, mode: str) -> list:
        months = np.arange(np.datetime64("2024-01"), np.datetime64("2024-01") + n_months).astype("datetime64[D]")
        future = np.arange(months[-1].astype("datetime64[M]") + 1, months[-1].astype("datetime64[M]") + 7).astype("datetime64[D]")
        return [FitTask(key=f"{mode}{n_months}|{i}", series_id=str(i), stage="final", months=months,
                        y=np.ones(n_months), future=future, config=ProphetConfig(seasonality_mode=mode))
                for i in range(n)]

    # three batches (two designs, two modes), in the order run_fits sorts them: the 30-month additive and
    # multiplicative ones a pair (the additive fits start the multiplicative ones), each series' two side by side
    tasks = sorted(tasks_of(30, 700, "additive") + tasks_of(30, 5, "multiplicative") + tasks_of(40, 40, "additive"),
                   key=chunk_order)
    one = chunked_exact(tasks, workers=1)
    assert [t for c in one for t in c] == tasks
    assert max(map(len, one)) <= MAX_CHUNK_EXACT
    # chunks of at most 745 / 4 = 187: the pair's 705 in four equal pieces, the 40 whole
    assert [len(c) for c in one] == [177, 177, 177, 174, 40]
    assert all(len({pair_key(t) for t in c}) == 1 for c in one) and len({batch_key(t) for t in one[0]}) == 2
    chunk_of = {t.key: n for n, c in enumerate(one) for t in c}
    assert all(chunk_of[f"additive30|{i}"] == chunk_of[f"multiplicative30|{i}"] for i in range(5))
    two = chunked_exact(tasks, workers=2)
    assert [t for c in two for t in c] == tasks
    sizes = [len(c) for c in two]
    assert max(sizes) <= -(-len(tasks) // 8)  # at least CHUNKS_PER_WORKER chunks a worker
    # Guided: no chunk holds more than a quarter (1 / (2 x 2 workers)) of what is left from it on, so the
    # chunks shrink towards the end, to EXACT_TAIL tasks; and most tasks still go in large batches.
    left = [sum(sizes[i:]) for i in range(len(sizes))]
    assert all(size <= max(EXACT_TAIL, -(-rest // 4)) for size, rest in zip(sizes, left, strict=True))
    assert sizes[-1] <= EXACT_TAIL and sizes[-2] <= 2 * EXACT_TAIL
    assert sum(size for size in sizes if size <= EXACT_TAIL) < 4 * EXACT_TAIL
    assert sum(size for size in sizes if size >= 50) > 0.75 * len(tasks)
    assert chunked_exact([], workers=2) == []


def test_meanwhile_runs_here_while_the_pool_fits_then_this_process_fits_the_rest(monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sop_pipeline.forecasting import executor

    # A thread pool stands in for the process pool, a recorder for the fits: who fitted which chunk, when.
    fitted_by, pool_started = {}, threading.Event()
    main = threading.get_ident()

    def fake_fit_chunk(chunk):
        if threading.get_ident() != main:
            pool_started.set()
        fitted_by.update({task: threading.get_ident() for task in chunk})
        return [type("R", (), {"key": task})() for task in chunk]

    monkeypatch.setattr(executor, "fit_chunk", fake_fit_chunk)
    monkeypatch.setattr(executor, "init_worker", lambda: None)
    seen = {}

    def meanwhile():  # the pool must already be fitting: wait for it, and note what this process had fitted
        seen["pool_fitted_meanwhile"] = pool_started.wait(timeout=30)
        seen["fitted_here_before"] = sum(owner == main for owner in fitted_by.values())

    chunks = [[f"t{i}-{j}" for j in range(3)] for i in range(40)]
    with ThreadPoolExecutor(1) as pool:
        out = executor._report(executor._fit_here_and_on_pool(pool, 1, chunks, meanwhile), 120, None)
    assert seen == {"pool_fitted_meanwhile": True, "fitted_here_before": 0}
    assert sorted(out) == sorted(t for c in chunks for t in c)  # every task once
    assert any(owner == main for owner in fitted_by.values())  # and this process fitted its share after


def test_an_error_in_meanwhile_stops_the_pool_feeding_and_is_raised(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from sop_pipeline.forecasting import executor

    fitted = []
    monkeypatch.setattr(executor, "fit_chunk", lambda chunk: fitted.extend(chunk) or [])
    monkeypatch.setattr(executor, "init_worker", lambda: None)

    def meanwhile():
        raise RuntimeError("scoring failed")

    chunks = [[i] for i in range(1000)]
    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError, match="scoring failed"):
        list(executor._fit_here_and_on_pool(pool, 1, chunks, meanwhile))
    assert len(fitted) < len(chunks)  # the feeders stopped after the chunks in flight
