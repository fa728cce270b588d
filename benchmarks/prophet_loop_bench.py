"""A plain Prophet loop over the series a cycle forecasts, as a data scientist would write it, beside
the whole cycle (`sop-pipeline run`) on the same sales, back to back.

The loop: for every series the cycle publishes a forecast of (the total, each family, each SKU it fits,
as `forecast_demand` picks them: `classification.prepare` of the final stage), one stock `Prophet()`
(CmdStan, default uncertainty sampling), `fit` on its monthly history and `predict` on
`make_future_dataframe(periods=horizon, freq="MS")`, one series after another in one process. No
backtest, no choice of configuration, no plan: the cycle does all of that besides, so "cycle / loop"
below 1 means the whole cycle costs less than forecasting its series once the naive way.

    python benchmarks/prophet_loop_bench.py                    # the demo: cycle, then loop
    python benchmarks/prophet_loop_bench.py --no-cycle         # the loop alone
    python benchmarks/prophet_loop_bench.py --sales big.csv --limit 500   # a daily sales file; the loop
                                                               # on 500 series, its time scaled to all

Prints the series, fits, wall and CPU seconds of each, the machine's load, and the ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from sop_pipeline.common.months import add_months, month_number
from sop_pipeline.common.resources import DEMO_DIR, DEMO_SETTINGS
from sop_pipeline.config.loading import load_settings
from sop_pipeline.forecasting.classification import build_view, prepare
from sop_pipeline.forecasting.fitting import quiet_stan
from sop_pipeline.forecasting.input_checks import validate_history
from sop_pipeline.forecasting.models import model_configs


def monthly(sales: Path) -> pl.DataFrame:
    """Daily sales (date, sku, family, units) bucketed by month, as the ingest does."""
    daily = pl.scan_csv(sales, try_parse_dates=True)
    return (daily.group_by("family", "sku", month=pl.col("date").dt.truncate("1mo"))
            .agg(pl.col("units").sum()).collect())


def cycle_series(history: pl.DataFrame, horizon: int) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], int]:
    """(series id, months, units) of every series the cycle's final stage fits, and the months to forecast."""
    settings = load_settings(DEMO_SETTINGS).forecast.model_copy(update={"workers": 1, "horizon_months": horizon})
    cycle = add_months(history["month"].max(), 1)
    view = build_view(validate_history(history, cycle))
    n_future = month_number(cycle) - (view.first_month + view.n_months - 1) - 1 + horizon
    first = model_configs(settings)[:1]
    tasks = prepare(view, settings, "final", n_future, lambda _sid: first, {}).tasks
    return [(t.series_id, t.months, np.asarray(t.y, float)) for t in tasks], n_future


def prophet_loop(series, n_future: int) -> tuple[float, float]:
    """Wall and CPU seconds of one stock Prophet fit + predict per series."""
    import pandas as pd
    from prophet import Prophet

    wall, cpu = time.perf_counter(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # CmdStan runs as a child process
    for _sid, months, y in series:
        model = Prophet()
        model.fit(pd.DataFrame({"ds": pd.to_datetime(months), "y": y}))
        model.predict(model.make_future_dataframe(periods=n_future, freq="MS"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stan_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return time.perf_counter() - wall, time.process_time() - cpu + stan_cpu


def run_cycle(sales: Path | None, folder: Path, workers: str | None):
    """Wall and CPU seconds (the command and its children) of `sop-pipeline run`, its fits and the
    seconds of its forecast step."""
    work = folder / "cycle"
    shutil.copytree(DEMO_DIR, work)
    config = work / "sop.yaml"
    settings = yaml.safe_load(config.read_text())
    if sales is not None:  # another sales file: no new products or adjustments of the demo's SKUs
        settings["sales"]["path"] = str(sales.resolve())
        settings["new_products"] = settings["adjustments"] = None
    if workers:
        settings["forecast"]["workers"] = workers
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    env = {**os.environ, "DAGSTER_HOME": str(work / "dagster_home")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "run", "--config", str(config),
                           "--db", str(work / "sop.duckdb"), "--log-level", "WARNING"],
                          env=env, capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(f"sop-pipeline run failed ({done.returncode})")
    fits, forecast_seconds = _cycle_fits(work / "dagster_home")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, fits, forecast_seconds


def _cycle_fits(home: Path) -> tuple[int | None, float | None]:
    """The run's Prophet fits (its forecast's fit_stats) and its forecast step's seconds, from Dagster."""
    import dagster as dg

    from sop_pipeline.defs.instance_storage import open_instance

    with open_instance(home) as instance:
        run = instance.get_runs(limit=1)[0]
        step = [s for s in instance.get_run_step_stats(run.run_id) if "forecast" in s.step_key]
        seconds = sum((s.end_time or 0) - (s.start_time or 0) for s in step) if step else None
        event = instance.get_latest_materialization_event(dg.AssetKey(["sop", "forecast"]))
    stats = event.asset_materialization.metadata.get("fit_stats") if event else None
    data = getattr(stats, "data", None) or {}
    fits = data.get("series_fitted", 0) + data.get("fallback_fits", 0) if data else None
    return fits, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=Path, help="a daily sales CSV (date, sku, family, units); default: the demo's")
    parser.add_argument("--limit", type=int, help="fit only this many series (spread over all) and scale the time")
    parser.add_argument("--no-cycle", action="store_true", help="the loop only, no `sop-pipeline run`")
    parser.add_argument("--workers", help="the cycle's forecast.workers (default: the demo's setting)")
    args = parser.parse_args()
    quiet_stan()
    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
    horizon = int(yaml.safe_load(DEMO_SETTINGS.read_text())["forecast"]["horizon_months"])
    sales = args.sales or DEMO_DIR / "sales_history.csv"
    series, n_future = cycle_series(monthly(sales), horizon)
    sample = series
    if args.limit and args.limit < len(series):
        sample = [series[i] for i in np.linspace(0, len(series) - 1, args.limit).round().astype(int)]
    load_before = os.getloadavg()
    rows = []
    if not args.no_cycle:
        with tempfile.TemporaryDirectory(prefix="sop_loop_bench_") as tmp:
            wall, cpu, fits, forecast_seconds = run_cycle(args.sales, Path(tmp), args.workers)
        rows.append(("sop-pipeline run (whole cycle)", len(series), fits, wall, cpu))
        print(f"  done: cycle {wall:.1f} s (its forecast step {forecast_seconds or 0:.1f} s)", flush=True)
    wall, cpu = prophet_loop(sample, n_future)
    scale = len(series) / len(sample)
    label = "Prophet loop" + (f" ({len(sample)} series, x{scale:.2f})" if scale != 1 else "")
    rows.append((label, len(series), len(series), wall * scale, cpu * scale))
    print(f"  done: loop {wall:.1f} s on {len(sample)} series", flush=True)
    load_after = os.getloadavg()

    print(f"\n{sales.name}: {len(series)} series the cycle publishes, {n_future} months forecast; "
          f"load (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, {os.cpu_count()} cores\n")
    print(f"{'run':<44}{'series':>8}{'fits':>9}{'wall s':>9}{'CPU s':>9}{'wall s/series':>15}")
    for label, n, fits, wall, cpu in rows:
        print(f"{label:<44}{n:>8}{fits if fits is not None else '-':>9}{wall:>9.1f}{cpu:>9.1f}{wall / n:>15.3f}")
    if len(rows) == 2:
        cycle, loop = rows
        print(f"\nloop wall / cycle wall: {loop[3] / cycle[3]:.2f}x (the cycle is that many times faster)")


if __name__ == "__main__":  # the cycle's pool spawns workers that re-import this module
    main()
