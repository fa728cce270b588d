"""The exact in-process Prophet engine against CmdStan: time per series and log-posterior agreement.

    python benchmarks/exact_engine_bench.py                 # 200 synthetic monthly series
    python benchmarks/exact_engine_bench.py --series 20     # a quick check that it all runs

For each seasonality mode, N synthetic monthly series (48 months, trend with a break, yearly
season, noise) are fitted and forecast 12 months ahead, in one process, three ways:

  cmdstan       Prophet(...).fit(df) + predict, Prophet's own CmdStan backend
  exact         the same with `use_exact_backend(model)`
  exact batch   `fit_predict_many`: all N series on the shared design in one call

The cmdstan and exact fits alternate series by series, so load from other work on the machine
hits both alike: the ratios within one run are what count. "backend" is the time inside the Stan
backend's fit (the rest of a fit + predict is Prophet's own pandas work, the same for both).
The model is the pipeline's: yearly seasonality, no weekly/daily, uncertainty_samples=0.
lp is Prophet's log posterior (`log_posterior`, the lp__ CmdStan reports) of each engine's optimum
on the same data; exact - cmdstan >= 0 means the exact engine found the better optimum.
Target: exact at least 10x faster than cmdstan.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd

HORIZON = 12


def synthetic_series(n_series: int, n_months: int, seed: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-01", periods=n_months, freq="MS")
    t = np.arange(n_months)
    ys = np.empty((n_series, n_months))
    for i in range(n_series):
        level = rng.uniform(20, 500)
        y = level * (1 + rng.normal(0, 0.01) * t)
        brk = rng.integers(n_months // 4, 3 * n_months // 4)
        y += np.where(t > brk, rng.normal(0, 0.02) * level * (t - brk), 0.0)
        y *= 1 + rng.uniform(0.05, 0.35) * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi))
        ys[i] = np.clip(np.round(y + rng.normal(0, rng.uniform(0.03, 0.12) * level, n_months)), 0, None)
    return ds, ys


def make_model(mode: str, n_months: int):
    from prophet import Prophet

    return Prophet(yearly_seasonality=n_months >= 24, weekly_seasonality=False, daily_seasonality=False,
                   seasonality_mode=mode, uncertainty_samples=0)


class Timed:
    """Wraps a backend's fit to add up the seconds spent inside it."""

    def __init__(self, backend, clock: list[float]):
        self._fit, self._clock = backend.fit, clock
        backend.fit = self

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._fit(*args, **kwargs)
        finally:
            self._clock.append(time.perf_counter() - started)


def run_mode(mode: str, ds: pd.DatetimeIndex, ys: np.ndarray) -> dict:
    from prophet.models import CmdStanPyBackend

    from sop_pipeline.forecasting.exact import fit_predict_many, log_posterior, use_exact_backend

    class Recording(CmdStanPyBackend):
        def fit(self, stan_init, stan_data, **kwargs):
            self.stan_data = stan_data
            return super().fit(stan_init, stan_data, **kwargs)

    n_months = len(ds)
    future = pd.date_range(ds[-1] + pd.offsets.MonthBegin(), periods=HORIZON, freq="MS")
    all_ds = pd.DataFrame({"ds": ds.append(future)})
    total = {"cmdstan": 0.0, "exact": 0.0}
    backend = {"cmdstan": [], "exact": []}
    lp_gap, yhat_gap, lp_exact, methods = [], [], [], set()
    for y in ys:
        df = pd.DataFrame({"ds": ds, "y": y})
        started = time.perf_counter()
        cmd = make_model(mode, n_months)
        cmd.stan_backend = Recording()
        Timed(cmd.stan_backend, backend["cmdstan"])
        cmd.fit(df)
        y_cmd = cmd.predict(all_ds)["yhat"].to_numpy()
        total["cmdstan"] += time.perf_counter() - started
        cmd.stan_backend.cleanup()

        started = time.perf_counter()
        exact = use_exact_backend(make_model(mode, n_months))
        Timed(exact.stan_backend, backend["exact"])
        exact.fit(df)
        y_exact = exact.predict(all_ds)["yhat"].to_numpy()
        total["exact"] += time.perf_counter() - started
        methods.add(exact.stan_backend.last_method)

        data = cmd.stan_backend.stan_data
        lp_exact.append(log_posterior(exact.params, data))
        lp_gap.append(lp_exact[-1] - log_posterior(cmd.params, data))
        yhat_gap.append(np.abs(y_exact - y_cmd).max() / np.abs(y).max())

    started = time.perf_counter()
    many = fit_predict_many(lambda: make_model(mode, n_months), ds, ys, future)
    batch_seconds = time.perf_counter() - started
    return {
        "n": len(ys), "total": total, "backend": backend, "batch": batch_seconds,
        "lp_gap": np.array(lp_gap), "yhat_gap": np.array(yhat_gap), "methods": methods,
        "batch_lp_diff": float(np.nanmax(np.abs(many.lp - np.array(lp_exact)))),
        "batch_methods": set(many.methods),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=200, help="synthetic series per mode (default 200)")
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="additive,multiplicative")
    args = parser.parse_args()

    from cmdstanpy.utils import get_logger

    get_logger().setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    ds, ys = synthetic_series(args.series, args.months, args.seed)
    run_mode("additive", ds, ys[:2])  # warm-up: imports, CmdStan model, holidays tables

    rows, checks = [], []
    for mode in args.modes.split(","):
        r = run_mode(mode, ds, ys)
        n = r["n"]
        per = {e: 1e3 * r["total"][e] / n for e in ("cmdstan", "exact")}
        back = {e: 1e3 * float(np.sum(r["backend"][e])) / n for e in ("cmdstan", "exact")}
        batch = 1e3 * r["batch"] / n
        rows += [
            (mode, "cmdstan", per["cmdstan"], back["cmdstan"], 1.0, 1.0),
            (mode, "exact", per["exact"], back["exact"], per["cmdstan"] / per["exact"],
             back["cmdstan"] / back["exact"]),
            (mode, "exact batch", batch, float("nan"), per["cmdstan"] / batch, float("nan")),
        ]
        gap = r["lp_gap"]
        checks.append(
            f"{mode:15s} lp(exact) - lp(cmdstan) over {n} series: median {np.median(gap):+.2e}, "
            f"min {gap.min():+.2e}, max {gap.max():+.2e}, >= -0.01 on {np.mean(gap >= -0.01):.1%}; "
            f"max |yhat diff| / max|y|: median {np.median(r['yhat_gap']):.1e}, max {r['yhat_gap'].max():.1e}; "
            f"batch lp vs exact: max |diff| {r['batch_lp_diff']:.1e}; engines {sorted(r['methods'] | r['batch_methods'])}")

    print(f"\n{args.series} synthetic monthly series x {args.months} months per mode, forecast {HORIZON} months\n")
    print(f"{'mode':15s} {'engine':12s} {'fit+predict ms/series':>22s} {'backend ms/series':>18s} "
          f"{'speed-up':>9s} {'backend speed-up':>17s}")
    for mode, engine, per, back, ratio, back_ratio in rows:
        back_s = f"{back:18.2f}" if np.isfinite(back) else f"{'-':>18s}"
        back_r = f"{back_ratio:16.1f}x" if np.isfinite(back_ratio) else f"{'-':>17s}"
        print(f"{mode:15s} {engine:12s} {per:22.2f} {back_s} {ratio:8.1f}x {back_r}")
    print()
    for line in checks:
        print(line)


if __name__ == "__main__":
    main()
