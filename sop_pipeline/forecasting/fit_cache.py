"""Backtest fits reused across the cycles of one backfill, where that is exact.

A backtest origin is a training cut-off: every configuration of every series fitted on the months
before it and forecast over the months it holds out. Replayed cycles share origins (with the default
3 origins 3 months apart, cycle C's two older origins are cycle C-3's two newer ones): the same
history up to the cut-off and the same configurations give the same fits, so a backfill fits each
origin once (`OriginCache`, switched on by `sop-pipeline backfill` only, `--no-fit-cache` off).

What is reused is a whole origin (every series and configuration fitted at it), never a single fit:
the exact engine solves the series of one design together, and a series' solution moves by up to
~1e-6 with the batch it was solved in (which flipped near-tied model choices when single fits were
reused). So each origin is also fitted on its own, in live runs too (`fit_origins`): its fits then
depend only on its own tasks and the number of workers (which cut the tasks into batches), and the
key is made of exactly these: every task's series, dates, training values, months forecast, warm
start and configuration, in order, and the executor and workers. The origin's name and position
(`origin2`) are not in it, so the key does not depend on how a cycle chooses its origins.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from sop_pipeline.forecasting.executor import run_fits
from sop_pipeline.forecasting.fitting import FitResult, FitTask

Progress = Callable[[int, int, str], None]


def origin_key(tasks: list[FitTask], workers: int, executor: str) -> str:
    """What determines every fit of one origin, as a digest (see the module's docstring)."""
    digest = hashlib.blake2b(digest_size=32)

    def add(*parts) -> None:
        for part in parts:
            if isinstance(part, np.ndarray):
                digest.update(f"{part.dtype.str}{part.shape}".encode())
                digest.update(np.ascontiguousarray(part).tobytes())
            else:
                digest.update(repr(part).encode())
            digest.update(b"\x1f")

    add("workers", workers, "executor", executor)
    for task in tasks:
        init = None if task.init is None else json.dumps(task.init, sort_keys=True, default=_plain)
        add(task.series_id, task.months, np.asarray(task.y, dtype=float), task.future, init,
            dataclasses.astuple(task.config))
    return digest.hexdigest()


def _plain(value):
    return np.asarray(value).tolist()


@dataclass
class _Origin:
    results: list[FitResult]  # in the order of the origin's tasks
    cut_off: object           # the last training month (np.datetime64): what eviction goes by


@dataclass
class CycleCount:
    """One cycle's backtest fits: reused from an earlier cycle, and fitted."""

    reused: int = 0
    fitted: int = 0
    origins_reused: int = 0
    origins_fitted: int = 0


class OriginCache:
    """Whole backtest origins' fits by `origin_key`, kept in memory for one backfill."""

    def __init__(self) -> None:
        self._origins: dict[str, _Origin] = {}
        self._cycle = CycleCount()
        self._earliest_cut_off = None  # of the origins asked for in the current cycle

    def __len__(self) -> int:
        return len(self._origins)

    def get(self, key: str, tasks: list[FitTask]) -> dict[str, FitResult] | None:
        self._asked(tasks)
        found = self._origins.get(key)
        if found is None:
            return None
        self._cycle.reused += len(tasks)
        self._cycle.origins_reused += 1
        # The same fits under this cycle's names of the tasks (`origin1|sku|X|model`: the stage may differ).
        return {task.key: dataclasses.replace(result, key=task.key, stage=task.stage)
                for task, result in zip(tasks, found.results, strict=True)}

    def put(self, key: str, tasks: list[FitTask], fits: dict[str, FitResult]) -> None:
        self._cycle.fitted += len(tasks)
        self._cycle.origins_fitted += 1
        results = [fits[task.key] for task in tasks]
        for result in results:  # shared with this cycle's forecast: nothing may change them in place
            result.yhat.setflags(write=False)
        self._origins[key] = _Origin(results, _cut_off(tasks))

    def _asked(self, tasks: list[FitTask]) -> None:
        cut_off = _cut_off(tasks)
        if cut_off is not None and (self._earliest_cut_off is None or cut_off < self._earliest_cut_off):
            self._earliest_cut_off = cut_off

    def cycle_done(self) -> CycleCount:
        """The finished cycle's counts; forget the origins older than every one it asked for (a backfill
        replays cycles oldest first, so later cycles' origins are no older: a wrong guess only costs a fit)."""
        count, self._cycle = self._cycle, CycleCount()
        if self._earliest_cut_off is not None:
            self._origins = {k: o for k, o in self._origins.items()
                             if o.cut_off is None or o.cut_off >= self._earliest_cut_off}
        self._earliest_cut_off = None
        return count


def _cut_off(tasks: list[FitTask]):
    return max((task.months[-1] for task in tasks if len(task.months)), default=None)


_active: OriginCache | None = None


@contextmanager
def reusing_origins(cache: OriginCache | None) -> Iterator[OriginCache | None]:
    """Within this block, `fit_origins` reuses and keeps whole origins in `cache` (None: fits every one)."""
    global _active
    previous, _active = _active, cache
    try:
        yield cache
    finally:
        _active = previous


def fit_origins(tasks: list[FitTask], workers: int, executor: str = "local", dask_address: str | None = None,
                progress: Progress | None = None) -> dict[str, FitResult]:
    """Fit backtest tasks (of any origins), each origin (`task.stage`) on its own, reusing whole origins
    from the active cache (a backfill's). The worker pool stays up for the forecast's next round."""
    by_origin: dict[str, list[FitTask]] = {}
    for task in tasks:
        by_origin.setdefault(task.stage, []).append(task)
    cache, done, out = _active, 0, {}
    for origin in by_origin.values():
        key = origin_key(origin, workers, executor) if cache is not None else None
        fits = cache.get(key, origin) if cache is not None else None
        if fits is None:
            offset = done
            report = None if progress is None else (lambda n, _total, last, offset=offset:
                                                    progress(offset + n, len(tasks), last))
            fits = run_fits(origin, workers=workers, executor=executor, dask_address=dask_address,
                            progress=report, release=False)
            if cache is not None:
                cache.put(key, origin, fits)
        elif progress is not None:
            progress(done + len(origin), len(tasks), origin[-1].key)
        done += len(origin)
        out |= fits
    return out
