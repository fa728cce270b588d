"""Run a solve so that Ctrl-C and SIGTERM still stop the run within moments.

HiGHS's C++ solve holds the calling thread until it returns, and Python runs signal handlers only in
the main thread between bytecodes: a solve on the main thread makes a run deaf to signals for as long
as it lasts. So the solve runs on a daemon thread (highspy releases the GIL while HiGHS works) and the
main thread waits in short slices, free to take a signal: KeyboardInterrupt (or the SIGTERM handler's
exception) is raised here, nothing is published, and the process may exit with the solver thread
still running (a daemon thread does not hold the process open).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
_WAIT_SECONDS = 0.1


def run(solve: Callable[[], T]) -> T:
    """`solve()` on a daemon thread; its result or its exception, as if called here."""
    return run_all([solve])[0]


def run_all(solves: Sequence[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Every `solve()` at once on up to `workers` (default: the cores) daemon threads, their results in
    order; the first exception in order is raised once all have ended. HiGHS releases the GIL while it
    works, so independent models (a cycle's scenarios) solve side by side, and the main thread waits in
    short slices, free to take a signal. With one worker they run one after another, in order."""
    if threading.current_thread() is not threading.main_thread():
        return [solve() for solve in solves]  # signals reach only the main thread: nothing to gain from another
    workers = max(1, min(len(solves), workers or os.cpu_count() or 1))
    if workers == 1 and len(solves) > 1:
        return [run(solve) for solve in solves]
    outcomes: list[dict] = [{} for _ in solves]
    slots = threading.Semaphore(workers)

    def target(i: int) -> None:
        with slots:
            try:
                outcomes[i]["value"] = solves[i]()
            except BaseException as exc:  # re-raised on the caller's thread
                outcomes[i]["error"] = exc

    threads = [threading.Thread(target=target, args=(i,), name=f"highs-solve-{i}", daemon=True)
               for i in range(len(solves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(_WAIT_SECONDS)
    for outcome in outcomes:
        if "error" in outcome:
            raise outcome["error"]
    return [outcome["value"] for outcome in outcomes]
