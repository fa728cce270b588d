"""`interruptible.run_all`: independent solves side by side (a cycle's scenarios), results in order."""

from __future__ import annotations

import threading

import pytest

from sop_pipeline.supply import interruptible


def test_solves_run_side_by_side_and_keep_their_order():
    both_running = threading.Barrier(2, timeout=10)  # broken (an error) unless the two run at the same time

    def solve(value):
        both_running.wait()
        return value

    assert interruptible.run_all([lambda: solve("a"), lambda: solve("b")], workers=2) == ["a", "b"]


def test_at_most_workers_at_a_time_and_the_first_error_in_order():
    running, most = [0], [0]
    lock = threading.Lock()

    def solve(i):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.05)
        with lock:
            running[0] -= 1
        if i in (2, 4):
            raise ValueError(f"scenario {i} failed")
        return i

    with pytest.raises(ValueError, match="scenario 2 failed"):
        interruptible.run_all([lambda i=i: solve(i) for i in range(6)], workers=2)
    assert most[0] == 2
    assert interruptible.run_all([lambda i=i: i * i for i in range(5)], workers=1) == [0, 1, 4, 9, 16]
