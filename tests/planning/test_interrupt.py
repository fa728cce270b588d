"""Ctrl-C and SIGTERM stop a long optimal solve within seconds (HiGHS runs off the main thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A MILP that runs far longer than the test waits: 300 whole-worker families sharing one work centre.
LONG_SOLVE = """
import signal
import sys
sys.path.insert(0, {bench!r})
# As a long-running command would: SIGTERM ends the run like Ctrl-C (nothing published, exit non-zero).
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
import numpy as np
from planning_bench import synthetic_families
from sop_pipeline.supply import model
from sop_pipeline.common.solver_limits import SolverLimits
problems, capacity = synthetic_families(300, 24, integer=True)
per_unit = np.array([[p.production.labor_hours_per_unit for p in problems]])
centre = model.ResourceLimits(["Assembly"], np.full((1, 24), capacity), per_unit)
print("solving", flush=True)
model.solve(model.stack(problems), limits=SolverLimits(600, 0.0), resources=centre)
print("finished", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_a_long_solve(sig):
    code = LONG_SOLVE.format(bench=str(ROOT / "benchmarks"))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "solving"
        time.sleep(4)  # model built, HiGHS inside its branch and bound
        assert proc.poll() is None, "the solve ended before the signal: make the problem harder"
        sent = time.perf_counter()
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        stopped = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stopped < 5, f"took {stopped:.1f} s to stop"
    assert "finished" not in proc.stdout.read()
    assert proc.returncode != 0


@pytest.mark.slow
def test_sigterm_stops_branch_and_bound_in_its_child_process():
    """Large models run branch and bound in a child process (supply/deadline_solve.py): a signal to the run
    stops it within seconds, the child included (none left computing)."""
    psutil = pytest.importorskip("psutil")
    code = LONG_SOLVE.format(bench=str(ROOT / "benchmarks"))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "solving"
        run = psutil.Process(proc.pid)
        waited = time.perf_counter()
        while not (children := run.children(recursive=True)) and time.perf_counter() - waited < 120:
            time.sleep(0.2)  # the rounded plan first, then branch and bound in its child
        assert children, "branch and bound never started in a child process"
        time.sleep(3)
        assert proc.poll() is None
        sent = time.perf_counter()
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        stopped = time.perf_counter() - sent
        _gone, alive = psutil.wait_procs(children, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stopped < 5, f"took {stopped:.1f} s to stop"
    assert not alive, "the branch-and-bound child outlived the run"
    assert proc.returncode != 0
