"""Forecast throughput: worker scaling, the naive Prophet loop, and warm start.

    python benchmarks/forecast_bench.py --skus 1000      # the measurement (many minutes on 2 cores)
    python benchmarks/forecast_bench.py --skus 40        # a quick check that it all runs

A "series" is one Prophet fit plus its forecast of one monthly series. The pipeline's numbers are
whole `forecast_demand` runs (family and total fits, the backtest refits, shares, reconciliation,
scoring) divided into the number of series it fitted; the naive loop fits each SKU once with
`Prophet().fit(df)` and `predict`, as a first-time user would (default uncertainty sampling).
With 1 worker the pipeline fits in-process; with 2 it fits in-process and in a one-process spawn pool.
Targets: 2 workers / 1 worker >= 1.8; pipeline (2 workers) / naive loop >= 1.8; warm / cold >= 1.5.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date

import polars as pl

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand
from sop_pipeline.forecasting.fitting import quiet_stan
from sop_pipeline.forecasting.synthetic import synthetic_history

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


def pooled_wape(result) -> float:
    family = result.accuracy.filter((pl.col("level") == "family") & (pl.col("method") == "chosen"))
    return family["sum_abs_error"].sum() / family["sum_actual"].sum()


def pipeline_run(history, settings, cycle, warm=None):
    started = time.perf_counter()
    result = forecast_demand(history, settings, cycle, warm_start_params=warm)
    seconds = time.perf_counter() - started
    return result, result.stats["series_fitted"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--months", type=int, default=48, help="months of history in the first cycle")
    parser.add_argument("--families", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=18)
    parser.add_argument("--backtest", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2, help="the parallel run's worker count")
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
        print(f"  done: {label}: {n} series in {seconds:.1f} s", flush=True)

    print(f"{args.skus} SKUs x {args.months} months, {args.families} families, horizon {args.horizon}, "
          f"backtest {args.backtest}", flush=True)
    record("naive Prophet loop (sequential, default settings)", *naive_loop(history1, args.horizon))
    _, n, s = pipeline_run(history1, settings(1), cycle1)
    record("pipeline, 1 worker, cold", n, s)
    first, n, s = pipeline_run(history1, settings(args.workers), cycle1)
    record(f"pipeline, {args.workers} workers, cold", n, s)
    cold, n, s = pipeline_run(full, settings(args.workers), cycle2)
    record(f"next cycle, {args.workers} workers, cold", n, s)
    warm, n, s = pipeline_run(full, settings(args.workers), cycle2, warm=first.params)
    record(f"next cycle, {args.workers} workers, warm start", n, s)

    naive, one, many, cold2, warm2 = (r for _, _, _, r in rows)
    print()
    print(f"{'run':<52} {'series':>7} {'seconds':>9} {'series/s':>9}")
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


if __name__ == "__main__":  # the process pool spawns workers that re-import this module
    main()
