"""Forecast throughput: the exact engine against CmdStan, worker scaling, the naive Prophet loop,
warm start, and (with --demo) the demo cycle's wall time with each engine.

    python benchmarks/forecast_bench.py --skus 1000 --demo   # the measurement (most of an hour on 2 cores)
    python benchmarks/forecast_bench.py --skus 40            # a quick check that it all runs
    python benchmarks/forecast_bench.py --skus 100 --engines-only   # fits/s per core of each engine only

Engines: one FitTask per SKU (its whole history, the settings' default changepoint prior, the
horizon's months to forecast) goes through `fit_task` twice, with `engine: exact` and with
`engine: cmdstan`, SKU after SKU in this one process, so load from other work on the machine hits
both alike; once with additive and once with multiplicative seasonality (`--engine-modes`; the
exact engine solves a multiplicative fit from two starts, Prophet's and `exact._additive_starts`). Time is
fit + predict (history and horizon) per series; the exact engine's includes building its shared
design (the first SKU of each set of dates). Target: exact >= 10x faster. "batched" is the same exact
tasks through `fit_chunk` in one call (series of one design solved together, `exact.solve_batch`);
one process, so fits/s is per core.

A "fit" is one Prophet fit plus its forecast of one monthly series. The pipeline's numbers are
whole `forecast_demand` runs (family and total fits, every configuration's backtest refits, shares,
reconciliation, scoring) divided into the number of fits it made (`forecast.models: auto` fits each
series in 6 configurations at every backtest origin); the naive loop fits each SKU once with
`Prophet().fit(df)` and `predict`, as a first-time user would (CmdStan, default uncertainty sampling).
With 1 worker the pipeline fits in-process; with 2 it fits in-process and in a one-process spawn pool.
Targets: 2 workers / 1 worker >= 1.8; pipeline (2 workers) / naive loop >= 1.8; warm / cold >= 1.5.

--demo: `sop-pipeline run` of the demo (its files copied to a temporary folder, `forecast.engine`
set, fresh database and Dagster home, the demo's own worker setting), once per engine.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from synthetic import synthetic_history  # benchmarks/synthetic.py (test data, not shipped in the wheel)

from sop_pipeline.common.months import month_array, month_number
from sop_pipeline.common.resources import DEMO_DIR
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import fitting, forecast_demand
from sop_pipeline.forecasting.fitting import FitTask, fit_task, quiet_stan
from sop_pipeline.forecasting.models import model_configs, model_name

END = date(2025, 12, 1)  # last month of the second cycle's history


def naive_loop(history: pl.DataFrame, horizon: int) -> tuple[int, float]:
    """Prophet the way its quick-start shows it, one SKU after another."""
    import pandas as pd
    from prophet import Prophet

    started = time.perf_counter()
    series = history.partition_by("sku", as_dict=False)
    for frame in series:
        df = pd.DataFrame({"ds": pd.to_datetime(frame["month"].to_list()), "y": frame["units"].to_numpy()})
        model = Prophet()
        model.fit(df)
        model.predict(model.make_future_dataframe(periods=horizon, freq="MS"))
    return len(series), time.perf_counter() - started


def sku_tasks(history: pl.DataFrame, horizon: int, config) -> list[FitTask]:
    """One task per SKU: its months from its first sale, its units, the next `horizon` months."""
    tasks = []
    for frame in history.sort("sku", "month").partition_by("sku", maintain_order=True):
        first, n = month_number(frame["month"][0]), frame.height
        tasks.append(FitTask(key=f"final|sku|{frame['sku'][0]}", series_id=f"sku|{frame['sku'][0]}",
                             stage="final", months=month_array(first, n), y=frame["units"].to_numpy(),
                             future=month_array(first + n, horizon), config=config))
    return tasks


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (CmdStan runs as one per fit)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def engines(tasks: list[FitTask]) -> dict:
    """fit_task with engine exact and with engine cmdstan on the same tasks, alternating per task."""
    fitting._designs.clear()  # the exact engine pays for its shared designs here, not in earlier runs
    seconds = {"exact": 0.0, "cmdstan": 0.0}
    cpu = {"exact": 0.0, "cmdstan": 0.0}  # this process's, plus CmdStan's own child processes'
    lp = {"exact": [], "cmdstan": []}
    solved = {"exact": set(), "cmdstan": set()}
    for task in tasks:
        for engine in ("exact", "cmdstan"):
            one = replace(task, config=replace(task.config, engine=engine))
            started, cpu_started = time.perf_counter(), _cpu()
            result = fit_task(one)
            seconds[engine] += time.perf_counter() - started
            cpu[engine] += _cpu() - cpu_started
            lp[engine].append(np.nan if result.log_posterior is None else result.log_posterior)
            solved[engine].add(result.engine.split(" (")[0] if engine == "cmdstan" else result.engine)
    # batched: the same exact tasks through fit_chunk, which solves those sharing a design together
    fitting._designs.clear()
    exact_tasks = [replace(task, config=replace(task.config, engine="exact")) for task in tasks]
    started, cpu_started = time.perf_counter(), _cpu()
    batched = fitting.fit_chunk(exact_tasks)
    seconds["batched"] = time.perf_counter() - started
    cpu["batched"] = _cpu() - cpu_started
    lp["batched"] = [np.nan if r.log_posterior is None else r.log_posterior for r in batched]
    solved["batched"] = {r.engine for r in batched}
    # exact: lp in full precision; cmdstan: lp__ as CmdStan writes it (6 significant digits)
    gap = np.array(lp["exact"]) - np.array(lp["cmdstan"])
    batch_gap = np.array(lp["batched"]) - np.array(lp["exact"])
    return {"n": len(tasks), "seconds": seconds, "cpu": cpu, "gap": gap[np.isfinite(gap)], "solved": solved,
            "batch_gap": batch_gap[np.isfinite(batch_gap)]}


def demo_cycle(engine: str, folder: Path) -> float:
    """Wall seconds of `sop-pipeline run` of the demo with `forecast.engine: engine`."""
    work = folder / engine
    shutil.copytree(DEMO_DIR, work)
    config = work / "sop.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["forecast"]["engine"] = engine
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    env = {**os.environ, "DAGSTER_HOME": str(work / "dagster_home")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(config),
                    "--db", str(work / "sop.duckdb"), "--log-level", "WARNING"],
                   env=env, check=True, capture_output=True, cwd=work)
    return time.perf_counter() - started


def pooled_wape(result) -> float:
    family = result.accuracy.filter((pl.col("level") == "family") & (pl.col("method") == "chosen"))
    return family["sum_abs_error"].sum() / family["sum_actual"].sum()


def pipeline_run(history, settings, cycle, warm=None):
    started = time.perf_counter()
    result = forecast_demand(history, settings, cycle, warm_start_params=warm)
    seconds = time.perf_counter() - started
    return result, result.stats["series_fitted"], seconds


def print_engines(skus: int, compared: dict) -> None:
    """The engine table: wall and CPU per fit, fits per second per core (one process: one core)."""
    print(f"\nEngines: fit_task on the same {skus} SKU tasks per configuration, one process (target >= 10x)\n")
    print(f"{'configuration':<24} {'engine':<8} {'fit+predict ms/series':>22} {'total s':>9} {'fits/s':>8} "
          f"{'speed-up':>9} {'CPU ms/fit':>11} {'fits/s/core':>12} {'vs cmdstan':>11}")
    notes = []
    for name, c in compared.items():
        per = {e: 1e3 * c["seconds"][e] / c["n"] for e in c["seconds"]}
        per_cpu = {e: 1e3 * c["cpu"][e] / c["n"] for e in c["cpu"]}
        for engine in ("cmdstan", "exact", "batched"):
            print(f"{name:<24} {engine:<8} {per[engine]:>22.2f} {c['seconds'][engine]:>9.1f} "
                  f"{1e3 / per[engine]:>8.1f} {per['cmdstan'] / per[engine]:>8.1f}x {per_cpu[engine]:>11.2f} "
                  f"{1e3 / per_cpu[engine]:>12.1f} {per_cpu['cmdstan'] / per_cpu[engine]:>10.1f}x")
        gap = c["gap"]
        notes.append(f"{name}: solved by {sorted(c['solved']['exact'])} vs {sorted(c['solved']['cmdstan'])}; "
                     f"lp exact - cmdstan's lp__ over {len(gap)} series: median {np.median(gap):+.1e}, "
                     f"min {gap.min():+.1e}, >= -0.01 on {np.mean(gap >= -0.01):.1%}; batched - one at a time: "
                     f"min {c['batch_gap'].min():+.1e}, max {c['batch_gap'].max():+.1e}")
    print("\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--months", type=int, default=48, help="months of history in the first cycle")
    parser.add_argument("--families", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=18)
    parser.add_argument("--backtest", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2, help="the parallel run's worker count")
    parser.add_argument("--engine-modes", default="additive,multiplicative",
                        help="seasonality modes of the exact-vs-cmdstan comparison (the settings' default otherwise)")
    parser.add_argument("--demo", action="store_true", help="also time the demo cycle with each engine (many minutes)")
    parser.add_argument("--engines-only", action="store_true",
                        help="only the engine table (one-at-a-time, batched, CmdStan), no pipeline runs")
    args = parser.parse_args()
    quiet_stan()
    logging.getLogger("prophet").setLevel(logging.ERROR)

    # One extra month: cycle 1 sees all but the last month, cycle 2 (the warm-start cycle) all of it.
    full = synthetic_history(args.skus, args.months + 1, args.families, seed=7, end=END)
    cycle2 = date(2026, 1, 1)
    cycle1 = date(2025, 12, 1)
    history1 = full.filter(pl.col("month") < cycle1)

    def settings(workers: int) -> ForecastSettings:
        return ForecastSettings(horizon_months=args.horizon, backtest_months=args.backtest,
                                workers=workers, approach="best")

    rows = []

    def record(label, n, seconds):
        rows.append((label, n, seconds, n / seconds))
        print(f"  done: {label}: {n} fits in {seconds:.1f} s", flush=True)

    print(f"{args.skus} SKUs x {args.months} months, {args.families} families, horizon {args.horizon}, "
          f"backtest {args.backtest}, pipeline engine {settings(1).engine}, models {settings(1).models}",
          flush=True)
    fit_task(sku_tasks(history1.filter(pl.col("sku") == "SKU00000"), args.horizon,
                       replace(model_configs(settings(1))[0], engine="cmdstan"))[0])  # load CmdStan's model
    default = model_configs(settings(1))[0]
    compared = {}
    for mode in args.engine_modes.split(","):
        config = replace(default, seasonality_mode=mode, name=model_name(mode, default.changepoint_prior_scale))
        compared[config.name] = engines(sku_tasks(history1, args.horizon, config))
        print(f"  done: exact vs cmdstan engine on {compared[config.name]['n']} series, {config.name}", flush=True)
    if args.engines_only:
        print_engines(args.skus, compared)
        return
    record("naive Prophet loop (sequential, default settings)", *naive_loop(history1, args.horizon))
    _, n, s = pipeline_run(history1, settings(1), cycle1)
    record("pipeline, 1 worker, cold", n, s)
    first, n, s = pipeline_run(history1, settings(args.workers), cycle1)
    record(f"pipeline, {args.workers} workers, cold", n, s)
    cold, n, s = pipeline_run(full, settings(args.workers), cycle2)
    record(f"next cycle, {args.workers} workers, cold", n, s)
    warm, n, s = pipeline_run(full, settings(args.workers), cycle2, warm=first.params)
    record(f"next cycle, {args.workers} workers, warm start", n, s)

    demo = {}
    if args.demo:
        with tempfile.TemporaryDirectory(prefix="sop_forecast_bench_") as tmp:
            for engine in ("exact", "cmdstan"):
                demo[engine] = demo_cycle(engine, Path(tmp))
                print(f"  done: demo cycle, engine {engine}: {demo[engine]:.1f} s", flush=True)

    print_engines(args.skus, compared)

    naive, one, many, cold2, warm2 = (r for _, _, _, r in rows)
    print()
    print(f"{'run':<52} {'fits':>7} {'seconds':>9} {'fits/s':>9}")
    for label, n, seconds, r in rows:
        print(f"{label:<52} {n:>7} {seconds:>9.1f} {r:>9.2f}")
    print()
    print(f"{'ratio':<52} {'value':>7} {'target':>9}")
    for label, value in (
        (f"{args.workers} workers / 1 worker", many / one),
        (f"pipeline {args.workers} workers / naive loop", many / naive),
        ("warm start / cold (next cycle)", warm2 / cold2),
    ):
        print(f"{label:<52} {value:>7.2f} {'>= 1.8' if 'warm' not in label else '>= 1.5':>9}")
    print(f"\nwarm-started fits: {warm.stats['warm_started']} of {warm.stats['series_fitted']}")
    print("next cycle's backtest, family level, pooled WAPE of the chosen approach: "
          f"cold {pooled_wape(cold):.4f}, warm start {pooled_wape(warm):.4f}")
    if demo:
        print(f"\nDemo cycle (`sop-pipeline run`, cold, fresh database), wall seconds: exact {demo['exact']:.1f}, "
              f"cmdstan {demo['cmdstan']:.1f}, cmdstan / exact {demo['cmdstan'] / demo['exact']:.2f}")


if __name__ == "__main__":  # the process pool spawns workers that re-import this module
    main()
