"""Run many fits: in this process, in a local process pool, or on a Dask cluster.

One fit function (`fitting.fit_chunk`) for every executor; only the map differs. Work goes out in
chunks so pickling and scheduling cost little per series, and results come back as chunks finish
so the progress callback moves while the pool works.

Locally, `workers: N` means N processes fitting: this one and a pool of N - 1. The run's own
process would otherwise sit idle while the pool works, and one process fewer to start (Python,
Prophet, the Stan model) is a core's worth of start-up the run's serial stages no longer share.
"""

from __future__ import annotations

import atexit
import importlib
import itertools
import math
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from queue import SimpleQueue

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.forecasting.fitting import FitResult, FitTask, chunk_order, fit_chunk, init_worker, pair_key

Progress = Callable[[int, int, str], None]
_warm_pool: ProcessPoolExecutor | None = None
_warm_workers = 0
MAX_CHUNK = 4          # CmdStan fits per task: small enough that no worker idles long at the end, large enough to amortise
MAX_CHUNK_EXACT = 1024 # exact fits cost milliseconds, and a batch's Newton iterations cost about the same for
                       # 3 series as for 300 (NumPy's per-call overhead): the larger the batch, the cheaper a fit
EXACT_TAIL = 8         # the fewest exact fits a task at the end, so that the workers finish together
CHUNKS_PER_WORKER = 4


def chunked(tasks: list[FitTask], workers: int, max_chunk: int = MAX_CHUNK) -> list[list[FitTask]]:
    """Chunks of up to `max_chunk` tasks; the last `workers` chunks' worth go one task at a time, so
    the workers finish together instead of one idling while another works through a full chunk."""
    size = max(1, min(max_chunk, math.ceil(len(tasks) / (workers * CHUNKS_PER_WORKER))))
    split = max(0, len(tasks) - workers * size)
    head = tasks[:split]
    return [head[i : i + size] for i in range(0, split, size)] + [[task] for task in tasks[split:]]


def chunked_exact(tasks: list[FitTask], workers: int) -> list[list[FitTask]]:
    """Chunks of exact tasks (sorted by `fitting.chunk_order`) that keep each batch whole where it
    fits, an additive batch with the multiplicative one it starts (`fitting.pair_key`) and each series'
    two fits side by side: a batch is split into equal pieces of at most the chunk size, and small
    batches share a chunk.
    With several workers the chunks shrink towards the end (guided self-scheduling): none holds
    more than 1/(2 x workers) of the tasks left from it on, down to `EXACT_TAIL`, so the workers
    finish close together while most fits still go in large batches. (A tail of `EXACT_TAIL`-task
    chunks the size of a whole round's last chunks fitted most of the demo's tasks 8 at a time: a
    batch's Newton iterations cost about as much for 8 series as for 150, so 2 workers cost 1.5 times
    the CPU of one.) One worker needs no tail."""
    size = max(1, min(MAX_CHUNK_EXACT, math.ceil(len(tasks) / (workers * CHUNKS_PER_WORKER))))
    pieces: list[list[FitTask]] = []
    for _, batch in itertools.groupby(tasks, key=pair_key):
        batch = list(batch)
        step = math.ceil(len(batch) / math.ceil(len(batch) / size))
        pieces += [batch[i : i + step] for i in range(0, len(batch), step)]
    chunks: list[list[FitTask]] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + len(piece) <= size:
            chunks[-1] = chunks[-1] + piece
        else:
            chunks.append(piece)
    if workers <= 1:
        return chunks
    guided, left = [], len(tasks)
    for chunk in chunks:
        while chunk:
            take = max(EXACT_TAIL, math.ceil(left / (2 * workers)))
            guided.append(chunk[:take])
            chunk, left = chunk[take:], left - min(take, len(chunk))
    return guided


def _report(results: Iterable[list[FitResult]], total: int, progress: Progress | None):
    done, out = 0, {}
    for chunk in results:
        for result in chunk:
            out[result.key] = result
        done += len(chunk)
        if progress is not None and chunk:
            progress(done, total, chunk[-1].key)
    return out


def run_fits(
    tasks: list[FitTask],
    workers: int,
    executor: str = "local",
    dask_address: str | None = None,
    progress: Progress | None = None,
    release: bool = True,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, FitResult]:
    """Fit every task (each with its own configuration and engine); returns results by task key, in
    the order of `tasks` whichever worker finished first (so sums over them run in one order, run after
    run, and a backfill's reused origin adds up as a fresh one).

    A pool started ahead (`prewarm`) is used and, with `release`, shut down afterwards: a forecast
    that fits in two rounds keeps it for the second (`release=False`, then `release_pool()`).
    `meanwhile` is called in this process once the pool or the cluster has the tasks, before this
    process fits its own share: work that needs none of these fits overlaps them instead of leaving
    the workers idle (with one worker it simply runs first)."""
    if not tasks:
        if meanwhile is not None:
            meanwhile()
        return {}
    results = _fit_all(tasks, workers, executor, dask_address, progress, release, meanwhile)
    return {task.key: results[task.key] for task in tasks}


def _fit_all(tasks: list[FitTask], workers: int, executor: str, dask_address: str | None,
             progress: Progress | None, release: bool, meanwhile: Callable[[], None] | None) -> dict[str, FitResult]:
    exact = all(task.config.engine == "exact" for task in tasks)
    if exact:  # neighbours of one design and configuration go in one chunk and are solved as one batch
        tasks = sorted(tasks, key=chunk_order)
    chunks = chunked_exact(tasks, workers) if exact else chunked(tasks, workers)
    total = len(tasks)
    if executor == "dask":
        return _run_dask(chunks, total, dask_address, progress, meanwhile)
    if _warm_pool is not None and _warm_workers == workers and workers > 1:
        try:
            return _report(_fit_here_and_on_pool(_warm_pool, workers - 1, chunks, meanwhile), total, progress)
        finally:
            if release:
                release_pool()  # started for this forecast; its workers exit while later stages run
    if workers <= 1 or len(chunks) <= 1:
        # No pool for one worker: a process start costs more than a few fits.
        if meanwhile is not None:
            meanwhile()
        init_worker()
        return _report((fit_chunk(chunk) for chunk in chunks), total, progress)
    pool_workers = min(workers, len(chunks)) - 1
    with _new_pool(pool_workers) as pool:
        return _report(_fit_here_and_on_pool(pool, pool_workers, chunks, meanwhile), total, progress)


def _fit_here_and_on_pool(pool: ProcessPoolExecutor, pool_workers: int, chunks: list[list[FitTask]],
                          meanwhile: Callable[[], None] | None = None) -> Iterator[list[FitResult]]:
    """Fit chunks in this process while `pool_workers` pool processes fit the others, each side
    taking the next chunk when it is free (a pool process has at most one waiting, and the last
    chunks are small, so all finish close together); `meanwhile` runs here first, the pool already
    fitting. Yields each finished chunk, this process's and the pool's, as it comes."""
    todo, lock = deque(chunks), threading.Lock()
    finished: SimpleQueue = SimpleQueue()  # chunks of results, an exception, or None when a feeder ends

    def take() -> list[FitTask] | None:
        with lock:
            return todo.popleft() if todo else None

    def feed_pool_worker() -> None:  # one thread per pool process; it only waits on that process
        # One chunk queued behind the running one: while this process fits, handing a result back
        # and the next chunk over waits ~20 ms for the GIL, and the pool process should not idle then.
        in_flight: deque = deque()
        try:
            while True:
                while len(in_flight) < 2 and (chunk := take()) is not None:
                    in_flight.append(pool.submit(fit_chunk, chunk))
                if not in_flight:
                    break
                finished.put(in_flight.popleft().result())
        except BaseException as exc:  # a broken pool: no more chunks for anyone, the caller raises
            with lock:
                todo.clear()
            finished.put(exc)
        finished.put(None)

    feeders = [threading.Thread(target=feed_pool_worker, daemon=True) for _ in range(pool_workers)]
    for feeder in feeders:
        feeder.start()
    running = len(feeders)

    def collected(block: bool) -> Iterator[list[FitResult]]:
        nonlocal running
        while running and (block or not finished.empty()):
            item = finished.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    try:
        if meanwhile is not None:
            meanwhile()
        init_worker()
        while (chunk := take()) is not None:
            yield fit_chunk(chunk)
            yield from collected(block=False)
        yield from collected(block=True)
    finally:  # on an error here (or in `meanwhile`), the feeders stop after their current chunk
        with lock:
            todo.clear()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    # spawn: a clean interpreter per worker (no forked threads or locks from the caller's process).
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker)


def _init_pool_worker() -> None:
    # At the run's own priority (a spawned process inherits it). Not lowered: on a machine other
    # work keeps busy, a pool worker at nice 19 got 1:19 of CPU while the run's process got 8:49,
    # so "2 workers" fitted on about one.
    init_worker()


def release_pool() -> None:
    global _warm_pool, _warm_workers
    if _warm_pool is not None:
        _warm_pool.shutdown(wait=False)
        _warm_pool, _warm_workers = None, 0


def prewarm(workers: int) -> None:
    """Start the worker processes now, so their start-up (Python, Prophet, the Stan model) overlaps
    the stages before the forecast instead of adding to it. The first forecast uses the pool, then
    shuts it down."""
    global _warm_pool, _warm_workers
    if workers <= 1 or _warm_pool is not None:
        return
    _warm_pool, _warm_workers = _new_pool(workers - 1), workers  # this process is the N-th
    for _ in range(workers - 1):  # one task per worker makes the executor start every process
        _warm_pool.submit(_ready)
    atexit.register(release_pool)  # a run that fails before its forecast


def _ready() -> bool:
    return True


# What this process needs for its own share of the forecast, loaded ahead (`preload`): Prophet and the Stan
# model for the fits it makes beside the pool, hierarchicalforecast (with scikit-learn and dask.dataframe,
# 2-4 s) for the reconciliation after them, which no worker can overlap; and what the caller names (the
# forecast step's own modules, which it imports lazily: 0.2 s at its start).
_preloading: threading.Thread | None = None


def preload(*modules: str) -> None:
    """Import what this process's forecast will need on a background thread, now, and the `modules`
    named: the stages before the forecast run meanwhile (ingest and its checks mostly wait on DuckDB,
    which releases the GIL), so the imports leave the forecast's critical path. Idempotent; a failed
    import is left for the forecast itself to raise."""
    global _preloading
    if _preloading is None:
        _preloading = threading.Thread(target=_load_ahead, args=(modules,), name="forecast-preload", daemon=True)
        _preloading.start()


def _load_ahead(modules: tuple[str, ...]) -> None:
    try:
        init_worker()
        from sop_pipeline.forecasting.reconcile import min_trace

        min_trace()
        for module in modules:
            importlib.import_module(module)
    except Exception:  # noqa: BLE001 - the forecast imports them again and reports what fails there
        pass


def _run_dask(chunks, total, dask_address, progress, meanwhile=None) -> dict[str, FitResult]:
    if not dask_address:
        raise SettingsError(
            "forecast.executor is 'dask' but no scheduler address is set",
            where="forecast.dask_address",
            fix="Set forecast.dask_address (e.g. tcp://scheduler:8786) or use executor: local",
        )
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(dask_address, timeout="30s", set_as_default=False)
    except OSError as exc:
        raise SettingsError(
            f"Cannot reach the Dask scheduler: {exc}",
            where=f"forecast.dask_address = {dask_address}",
            fix="Start the scheduler and workers, or correct the address, or use executor: local",
        ) from None
    with client:
        futures = [client.submit(fit_chunk, chunk, pure=False) for chunk in chunks]
        if meanwhile is not None:
            meanwhile()
        completed = dask_completed(futures, loop=client.loop)
        return _report((future.result() for future in completed), total, progress)
