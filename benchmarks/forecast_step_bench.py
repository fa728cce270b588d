"""The forecast step (`forecast_demand`, the demo's forecast settings) on generated daily sales, with
1 local worker, 2 local workers, and `forecast.executor: dask` against a real local `dask scheduler`
and two `dask worker` processes (one thread each) that this script starts and stops.

    python benchmarks/forecast_step_bench.py --skus 5000 --rows 5000000
    python benchmarks/forecast_step_bench.py --skus 300 --rows 300000     # a quick check that it all runs

The sales come from `sop_pipeline.demo.write_large_sales` (launches, discontinuations, the demo's
seasons), bucketed by month as the ingest does, cached in --workdir. Each setting gets the same
history; the pools are started before the clock, as a run starts its pool at its beginning (the
`ForecastWorkers` resource) and a Dask cluster is up before a run uses it, and their start-up is
shown apart. CPU seconds are this process's plus every worker process's (sampled with psutil while
the step runs). Prints a table and the ratios: 2 workers / 1 worker (target <= 0.55) and Dask's
throughput / the local pool's (target >= 0.8). The machine's load is printed beside them: on a
shared machine the ratio can only be as good as the CPU the workers are given.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import polars as pl
import psutil

from sop_pipeline.common.months import add_months
from sop_pipeline.common.resources import DEMO_SETTINGS
from sop_pipeline.config.loading import load_settings
from sop_pipeline.forecasting import executor, forecast_demand
from sop_pipeline.forecasting.fitting import init_worker, quiet_stan


def monthly_history(workdir: Path, skus: int, rows: int) -> pl.DataFrame:
    cached = workdir / f"monthly_{skus}x{rows}.parquet"
    if cached.exists():
        return pl.read_parquet(cached)
    from sop_pipeline.demo import write_large_sales

    sales = workdir / f"sales_{skus}x{rows}.csv"
    write_large_sales(sales, rows, n_skus=skus)
    history = (pl.scan_csv(sales, try_parse_dates=True)
               .group_by("family", "sku", month=pl.col("date").dt.truncate("1mo"))
               .agg(pl.col("units").sum(), pl.col("revenue").sum()).collect())
    last = history["month"].max()
    history = history.filter(pl.col("month") < last)  # the last month is partial: the cycle starts there
    history.write_parquet(cached)
    sales.unlink()
    return history


class CpuMeter:
    """CPU seconds of some process trees while a block runs (psutil samples, 4 a second: a process
    that exits is counted up to its last sample; one that starts during the block from zero)."""

    def __init__(self, roots: list[psutil.Process]) -> None:
        self.roots, self.latest, self._stop = roots, {}, threading.Event()

    def _sample(self) -> None:
        for root in self.roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    self.latest[p.pid] = t.user + t.system
                except psutil.Error:
                    pass

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._sample()
        self.baseline = dict(self.latest)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(now - self.baseline.get(pid, 0.0) for pid, now in self.latest.items())

    @property
    def here(self) -> float:
        """This process's share (the rest is the workers', and the Dask scheduler's)."""
        pid = os.getpid()
        return self.latest.get(pid, 0.0) - self.baseline.get(pid, 0.0)


def timed(history, settings, cycle, roots) -> tuple[float, float, float, dict]:
    with CpuMeter(roots) as cpu:
        started = time.perf_counter()
        result = forecast_demand(history, settings, cycle)
        wall = time.perf_counter() - started
    return wall, cpu.seconds, cpu.here, result.stats


def start_dask(folder: Path, workers: int) -> tuple[list[subprocess.Popen], str]:
    """A `dask scheduler` and `workers` `dask worker` processes (one thread each), real processes."""
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": folder}
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--scheduler-file", str(scheduler_file),
                               "--port", "0", "--no-dashboard"], **quiet)]
    for _ in range(30 * 10):
        if scheduler_file.exists() and scheduler_file.stat().st_size:
            break
        time.sleep(0.1)
    for _ in range(workers):
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", "--scheduler-file", str(scheduler_file),
                                       "--nthreads", "1", "--nworkers", "1", "--no-dashboard"], **quiet))
    import json

    from distributed import Client

    address = json.loads(scheduler_file.read_text())["address"]
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(workers, timeout=120)
        client.run(init_worker)  # Prophet and the Stan model loaded, as a local pool process has them
    return procs, address


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workdir", type=Path, help="cache the generated history here (default: a temp folder)")
    parser.add_argument("--only", default="1,2,dask", help="settings to run, of 1, 2, dask")
    args = parser.parse_args()
    quiet_stan()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sop_step_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    history = monthly_history(workdir, args.skus, args.rows)
    cycle: date = add_months(history["month"].max(), 1)
    base = load_settings(DEMO_SETTINGS).forecast
    me = psutil.Process()
    rows, loads = [], []
    print(f"{history['sku'].n_unique():,} SKUs, {history.height:,} SKU-months to {history['month'].max()}, "
          f"models {base.models}, engine {base.engine}", flush=True)
    for setting in args.only.split(","):
        loads.append(os.getloadavg()[0])
        if setting == "dask":
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="sop_dask_") as tmp:
                procs, address = start_dask(Path(tmp), 2)
                start_up = time.perf_counter() - started
                try:
                    settings = base.model_copy(update={"executor": "dask", "dask_address": address, "workers": 2})
                    wall, cpu, here, stats = timed(history, settings, cycle, [me, *map(psutil.Process, (p.pid for p in procs))])
                finally:
                    stop(procs)
            label = "dask: scheduler + 2 workers (1 thread each)"
        else:
            workers = int(setting)
            started = time.perf_counter()
            if workers > 1:  # as the run's ForecastWorkers resource does, before the clock
                executor.prewarm(workers)
                executor._warm_pool.submit(executor._ready).result()
            start_up = time.perf_counter() - started
            settings = base.model_copy(update={"workers": workers, "executor": "local"})
            wall, cpu, here, stats = timed(history, settings, cycle, [me])
            label = f"local, {workers} worker{'s' if workers > 1 else ''}"
        fits = stats["series_fitted"] + stats["fallback_fits"]
        rows.append((setting, label, fits, wall, cpu, here, start_up))
        print(f"  done: {label}: {fits:,} fits in {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    loads.append(os.getloadavg()[0])

    print(f"\nForecast step, {args.skus:,} SKUs ({args.rows:,} daily rows), {os.cpu_count()} cores, "
          f"load (1 min) {', '.join(f'{x:.1f}' for x in loads)} before each and after\n")
    print(f"{'executor':<46}{'fits':>9}{'wall s':>9}{'CPU s':>9}{'of it, run':>11}{'CPU/wall':>10}"
          f"{'fits/s':>9}{'CPU ms/fit':>11}{'start-up s':>12}")
    for _, label, fits, wall, cpu, here, start_up in rows:
        print(f"{label:<46}{fits:>9,}{wall:>9.1f}{cpu:>9.1f}{here:>11.1f}{cpu / wall:>10.2f}{fits / wall:>9.1f}"
              f"{1e3 * cpu / fits:>11.2f}{start_up:>12.1f}")
    print("(CPU/wall: cores the step got; 'of it, run': the run's own process, the rest its workers)")
    by = {r[0]: r for r in rows}
    if "1" in by and "2" in by:
        print(f"\n2 workers / 1 worker, wall: {by['2'][3] / by['1'][3]:.2f} (target <= 0.55)")
    if "2" in by and "dask" in by:
        ratio = (by["dask"][2] / by["dask"][3]) / (by["2"][2] / by["2"][3])
        print(f"dask throughput / local 2 workers: {ratio:.2f} (target >= 0.80)")


if __name__ == "__main__":  # the local pool spawns workers that re-import this module
    main()
