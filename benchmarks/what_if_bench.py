"""How fast `sop-pipeline what-if` answers on the demo's published cycle (target: under 5 seconds).

Each what-if is timed as the planner meets it: the whole command in a new process (Python start-up,
imports, reading the published snapshot, re-planning the six families' 18 months, printing), fastest of
`--repeat` runs. Beside the wall time it prints the command's CPU time (user + system, all its threads):
on a machine shared with other work the wall time grows with the load, the CPU time much less.
It needs a published demo cycle: pass `--db` of one, or the script runs the demo once into a temporary
folder first (a few minutes, Prophet fits included; not timed).

    python benchmarks/what_if_bench.py [--db data/sop.duckdb] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WHAT_IFS = {
    "demand +10%": ["--demand", "10"],
    "Cookware -15% in 2027-03..2027-05": ["--demand", "-15", "--family", "Cookware", "--months", "2027-03..2027-05"],
    "plant capacity 12,000 h": ["--capacity", "12000"],
    "no overtime": ["--set", "defaults.production.max_overtime_hours_per_worker=0"],
}
TARGET_SECONDS = 5.0


def sop_pipeline(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sop_pipeline.cli", *args], env=env or os.environ.copy(),
                          check=True, capture_output=True, text=True)


def publish_demo(folder: Path) -> Path:
    db_path = folder / "sop.duckdb"
    print(f"Publishing the demo cycle into {db_path} (not timed) ...", flush=True)
    sop_pipeline("run", "--db", str(db_path), "--log-level", "WARNING",
                 env={**os.environ, "DAGSTER_HOME": str(folder / "dagster_home")})
    return db_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a database with a published demo cycle (default: publish one in a temp folder)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per what-if; the fastest counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sop_what_if_bench_") as tmp:
        db_path = Path(args.db) if args.db else publish_demo(Path(tmp))
        rows = []
        for label, flags in WHAT_IFS.items():
            times, cpu = [], []
            for _ in range(args.repeat):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                sop_pipeline("what-if", "--db", str(db_path), *flags, "--json")
                times.append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            rows.append((label, min(times), min(cpu), times))
    print(f"\n`sop-pipeline what-if` on the demo's published cycle (6 families x 18 months), whole command in a new "
          f"process, fastest of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print(f"{'what-if':<36}{'wall s':>9}{'CPU s':>9}   wall s of each run")
    for label, best, cpu, times in rows:
        print(f"{label:<36}{best:>9.2f}{cpu:>9.2f}   " + ", ".join(f"{t:.2f}" for t in times))
    slowest = max(best for _, best, _, _ in rows)
    print(f"\ntarget: every what-if under {TARGET_SECONDS:.0f} s -> "
          f"{'met' if slowest < TARGET_SECONDS else 'NOT met'} (slowest {slowest:.2f} s)")


if __name__ == "__main__":
    main()
