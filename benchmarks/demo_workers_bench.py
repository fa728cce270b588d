"""Wall time of the whole demo cycle (`sop-pipeline run`) with 1 and with 2 Prophet worker processes.

Each run starts cold: a fresh database (no warm start) and a fresh Dagster home. Prints a table and the
ratio (target: 2 workers take at most 0.6 of the time of 1 worker).

    python benchmarks/demo_workers_bench.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
DEMO = PROJECT / "assets" / "demo" / "sop.yaml"


def timed_run(workers: int, folder: Path) -> float:
    settings = yaml.safe_load(DEMO.read_text())
    settings["forecast"]["workers"] = workers
    for key in ("new_products", "adjustments"):
        settings[key] = str(DEMO.parent / settings[key])
    settings["sales"]["path"] = str(DEMO.parent / settings["sales"]["path"])
    config = folder / f"sop_{workers}.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "DAGSTER_HOME": str(folder / f"home_{workers}")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(config),
                    "--db", str(folder / f"sop_{workers}.duckdb"), "--log-level", "WARNING"],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting, alternating; the fastest counts")
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeat):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory(prefix="sop_demo_workers_") as tmp:
                times[workers].append(timed_run(workers, Path(tmp)))
    one, two = min(times[1]), min(times[2])
    print(f"\nDemo planning cycle 2026-11, whole `sop-pipeline run`, cold start, fastest of {args.repeat}\n")
    print("runs: " + "; ".join(f"{w} worker(s): " + ", ".join(f"{t:.1f}" for t in ts) for w, ts in times.items()))
    print(f"{'workers':>8}{'wall s':>10}{'vs 1 worker':>13}")
    print(f"{1:>8}{one:>10.1f}{1.0:>13.2f}")
    print(f"{2:>8}{two:>10.1f}{two / one:>13.2f}")
    print(f"\ntarget: 2 workers at most 0.60 of 1 worker's time -> {'met' if two / one <= 0.6 else 'NOT met'}")


if __name__ == "__main__":
    main()
