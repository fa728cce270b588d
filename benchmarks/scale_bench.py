"""The whole monthly cycle at scale: N SKUs and M daily sales rows, through `sop-pipeline run`.

Prints wall time, peak memory of the run (its process plus Prophet worker processes, sampled twice a
second) and, per Dagster step (from the run's step stats in the Dagster instance), its time and the
peak memory sampled while it ran.

The demo's settings are copied with their planning inputs scaled to the SKU count (N / 150): the
starting crews and stock of every family, the work centres' hours, and the budget (a scaled copy of
the demo's budget.csv), so the plans face the same tightness as the demo's.

    python benchmarks/scale_bench.py --skus 5000 --rows 5000000
    python benchmarks/scale_bench.py --skus 50000 --rows 50000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

PROJECT = Path(__file__).resolve().parents[1]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--workers", default="auto")
    parser.add_argument("--workdir", help="keep files here (default: a temporary folder)")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="sop_scale_"))
    workdir.mkdir(parents=True, exist_ok=True)
    sales = workdir / f"sales_{args.skus}x{args.rows}.csv"
    if not sales.exists():
        from sop_pipeline.demo import write_large_sales

        t = time.perf_counter()
        write_large_sales(sales, args.rows, n_skus=args.skus)
        print(f"generated {args.rows:,} rows for {args.skus:,} SKUs ({sales.stat().st_size / 1e9:.1f} GB) "
              f"in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    settings = yaml.safe_load((PROJECT / "assets" / "demo" / "sop.yaml").read_text())
    settings["sales"]["path"] = str(sales)
    settings["forecast"]["workers"] = args.workers
    settings["new_products"] = None
    settings["adjustments"] = None
    _scale_planning(settings, args.skus / 150, workdir)
    config = workdir / "sop.yaml"
    config.write_text(yaml.safe_dump(settings))
    home = workdir / "dagster_home"
    db_path = workdir / "sop.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(home)}

    started = time.perf_counter()
    run = subprocess.Popen([sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(config),
                            "--db", str(db_path), "--log-level", "WARNING"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(run.pid)
    samples: list[tuple[float, int]] = []  # (epoch seconds, bytes) of the run and its workers
    while run.poll() is None:
        samples.append((time.time(), _tree_rss(watched)))
        time.sleep(0.5)
    peak = max((rss for _, rss in samples), default=0)
    wall = time.perf_counter() - started
    output = run.stdout.read()
    if run.returncode != 0:
        print(output[-5000:])
        raise SystemExit(f"the run failed with exit code {run.returncode}")

    from sop_pipeline.defs.instance_storage import open_instance

    with open_instance(home) as instance:
        record = instance.get_runs(limit=1)[0]
        steps = instance.get_run_step_stats(record.run_id)
    print(f"\nWhole monthly cycle: {args.skus:,} SKUs, {args.rows:,} daily sales rows, workers={args.workers}\n")
    width = max([34] + [len(s.step_key) + 2 for s in steps])
    print(f"{'stage (Dagster step)':<{width}}{'seconds':>10}{'share':>8}{'peak MB':>10}")
    total_steps = sum((s.end_time or 0) - (s.start_time or 0) for s in steps)
    for s in sorted(steps, key=lambda s: s.start_time or 0):
        seconds = (s.end_time or 0) - (s.start_time or 0)
        during = [rss for at, rss in samples if (s.start_time or 0) <= at <= (s.end_time or 0)]
        memory = f"{max(during) / 1e6:,.0f}" if during else "-"
        print(f"{s.step_key:<{width}}{seconds:>10.1f}{seconds / wall:>8.1%}{memory:>10}")
    print(f"{'(CLI start-up, Dagster between steps)':<{width}}{wall - total_steps:>10.1f}{(wall - total_steps) / wall:>8.1%}")
    print(f"{'wall time':<{width}}{wall:>10.1f}")
    print(f"{'peak memory, run + workers (MB)':<{width}}{peak / 1e6:>10,.0f}")


def _scale_planning(settings: dict, scale: float, workdir: Path) -> None:
    """The demo's planning inputs for `scale` times its SKUs: crews, stock, work-centre hours, budget."""
    planning = settings["planning"]
    for section in ("workforce", "inventory"):
        default = planning["defaults"][section]["initial"]
        planning["defaults"][section]["initial"] = round(default * scale)
        for family in planning["families"].values():
            if "initial" in family.get(section, {}):
                family[section]["initial"] = round(family[section]["initial"] * scale)
    for centre in planning.get("resources") or []:
        hours = centre["hours_per_month"]
        centre["hours_per_month"] = ({month: value * scale for month, value in hours.items()}
                                     if isinstance(hours, dict) else hours * scale)
    if planning.get("shared_capacity"):
        planning["shared_capacity"] *= scale
    if settings.get("budget"):
        import polars as pl

        budget = pl.read_csv(PROJECT / "assets" / "demo" / settings["budget"])
        budget = budget.with_columns([(pl.col(c) * scale).round(0) for c in ("units", "revenue") if c in budget.columns])
        budget.write_csv(workdir / "budget.csv")
        settings["budget"] = str(workdir / "budget.csv")


if __name__ == "__main__":
    main()
