"""Prophet fits: the functions every worker runs, local pool or Dask alike.

Two engines (`forecast.engine`). `exact` (the default) solves Prophet's own MAP problem in-process
(`forecasting/exact.py`): the series of a chunk that share their dates and Prophet configuration
share one design (`SharedDesign`, built once by Prophet's own preprocessing), so a fit costs one
small Newton solve and a matrix product for its forecast. A series the exact solver cannot
certify is refitted by CmdStan, as is every series with `engine: cmdstan`.

CmdStan fits (`engine: cmdstan`, and the exact engine's fallbacks). Cold fits use Prophet's own
optimiser choice (Newton for monthly series). A warm fit starts from
the previous cycle's optimum and runs BFGS instead. Newton spends most of its iterations crawling
along the kinks of the Laplace prior on the changepoint rates (the log posterior improving by
1e-6 per iteration, each iteration a finite-difference Hessian), so from a start near the optimum
it saves little. BFGS needs Stan's parameter tolerance lowered (at the default it can stop after
one tiny line-search step, still at the start). Measured on 69 real monthly series (Superstore
Region x Sub-Category, air passengers; 12-month holdout, one month added since the warm start):
pooled holdout WAPE 0.3887 warm against 0.3886 cold, 0.7513 against 0.7482 averaged per series,
log posterior a median 0.02 below Newton's (worst 1.9), in 1/2.3 of Newton's Stan time. L-BFGS
was faster but stopped well short (median 1.5 below). A warm fit whose start does not fit the
model (seasonality switched on, holidays added) or whose optimiser fails is refitted cold.

Kept free of Polars and of the pipeline's bookkeeping so a worker imports little and a task
pickles small (a few NumPy arrays). A series Prophet cannot fit (too short, all zeros, a Stan
failure) gets the mean of its recent months instead of crashing the run.
"""

from __future__ import annotations

import ctypes
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

MIN_PROPHET_MONTHS = 3      # fewer points than this: a mean, not a trend
YEARLY_MIN_MONTHS = 24      # as Prophet's own rule: two full years before fitting a yearly shape
SHORT_YEARLY_MONTHS = 13    # `yearly: months`: from one year and a month, a month-of-year effect below two years
RECENT_MONTHS = 3           # the fallback forecast is the mean of this many latest months
WARM_PARAMS = ("k", "m", "sigma_obs", "delta", "beta")
WARM_FIT = {"algorithm": "BFGS", "tol_param": 1e-14}  # Stan optimiser for warm fits (see above)


DESIGN_CACHE_SIZE = 64      # shared designs kept per process (one per set of dates and configuration)


@dataclass(frozen=True)
class ProphetConfig:
    """One Prophet configuration (from `forecast:` in sop.yaml) and the engine that fits it."""

    seasonality_mode: str = "additive"
    changepoint_prior_scale: float = 0.05
    seasonality_prior_scale: float = 10.0
    country_holidays: str | None = None
    name: str = "default"
    engine: str = "exact"    # "exact" or "cmdstan"
    growth: str = "linear"   # "linear" or "flat" (a level that does not trend)
    yearly: str = "auto"     # "auto": a yearly shape from YEARLY_MIN_MONTHS; "months": below that, one
                             # effect per calendar month (Prophet holidays) from SHORT_YEARLY_MONTHS
    changepoint_range: float = 0.8   # share of the history (oldest first) where the trend may bend
    transform: str = "none"  # "none", or "log": Prophet fits log(units), the forecast is back-transformed
    window_months: int | None = None  # fit the most recent months only (None: the whole history)
    yearly_fourier: int = 10  # Fourier order of the yearly shape (Prophet's default 10) where one is fitted
    damping: float | None = None  # phi: the trend's month-to-month change after the history shrinks by
                                  # phi per month (`damped`); None: Prophet's own straight extrapolation
    level_months: int | None = None  # the forecast moved by the fit's mean residual over this many latest
                                     # months (`level_corrected`); None: Prophet's own level

    def log_scale(self, y: np.ndarray) -> bool:
        """Whether this configuration fits `y` on the log scale (a log needs every month above zero)."""
        return self.transform == "log" and len(y) > 0 and bool(np.all(np.asarray(y, float) > 0))

    def yearly_order(self, n_points: int) -> int:
        """Fourier order of the yearly shape for a series of `n_points` months (0: none)."""
        return self.yearly_fourier if n_points >= YEARLY_MIN_MONTHS else 0

    def month_effects(self, n_points: int) -> bool:
        """A short history's yearly shape: one Prophet holiday per calendar month. On month-start
        dates a Fourier series of a year and a half aliases (months are not equally long, and its
        high orders run between the observed days); a month's own effect, shrunk by its prior, is
        what one or two Decembers can tell."""
        return self.yearly == "months" and SHORT_YEARLY_MONTHS <= n_points < YEARLY_MIN_MONTHS


@dataclass(frozen=True)
class FitTask:
    key: str                 # unique within one run, e.g. "final|family|Chairs"
    series_id: str           # stable across cycles, e.g. "family|Chairs": the warm-start key
    stage: str               # "final", or "origin{j}" for the backtest's j-th origin (oldest first)
    months: np.ndarray       # datetime64[D], first of each month of history
    y: np.ndarray            # units per month
    future: np.ndarray       # datetime64[D] months to forecast
    init: dict | None = None  # previous cycle's fitted parameters (warm start)
    config: ProphetConfig = ProphetConfig()
    # Whether the result carries the fitted parameters (`FitResult.params_json`): the published fits'
    # are next cycle's warm start; a backtest origin's fit is only scored, and its parameters as JSON
    # were 70% of what the fits weigh, in memory and shipped back from the workers.
    keep_params: bool = True

    def design_key(self) -> tuple:
        """Tasks with equal keys share one exact design (same dates, same Prophet features)."""
        c = self.config
        return (self.months[0], len(self.months), self.future[0], len(self.future),
                c.seasonality_prior_scale, c.country_holidays, c.growth, c.yearly_order(len(self.months)),
                c.month_effects(len(self.months)), c.changepoint_range)


@dataclass(slots=True)  # a run holds one a fit (1.3 million at 50,000 SKUs): no __dict__ each
class FitResult:
    key: str
    series_id: str
    stage: str
    method: str              # "prophet" or "recent_mean"
    yhat: np.ndarray         # forecast for task.future (not yet floored)
    sigma: float             # in-sample residual standard deviation
    n_points: int
    model: str = "default"   # the configuration's name
    engine: str = ""         # how the fit was solved: "exact (shared design)", "cmdstan", a fallback...
    params_json: str | None = None
    n_changepoints: int | None = None
    warm_started: bool = False
    log_posterior: float | None = None  # Stan's lp__ at the optimum: compares warm and cold fits
    seconds: float = 0.0
    note: str | None = None  # why a fallback was used


def quiet_stan() -> None:
    """Silence cmdstanpy's per-fit chatter and Prophet's info messages (in every process)."""
    from cmdstanpy.utils import get_logger

    # cmdstanpy sets its logger to DEBUG with its own handler on first use: do that first, then lower it.
    # Its errors too: every failed fit is caught here and redone cold or given a fallback with a note.
    get_logger().setLevel(logging.CRITICAL)
    # Prophet warns when a yearly shape is fitted on just under 730 days of months: this pipeline
    # decides that itself (YEARLY_MIN_MONTHS) and says so in the accuracy table's note.
    logging.getLogger("prophet").setLevel(logging.ERROR)


# glibc gives arrays over 128 KiB (a batch's Jacobians and Hessians) their own pages and returns them
# when freed, so every Newton iteration faults in and zeroes fresh pages: on the demo's forecast 282,000
# page faults and 0.42 of 5.5 CPU s in the kernel. Served from the heap and kept there, 9,800 and 0.02 s.
MMAP_THRESHOLD_BYTES = 64 * 2**20
TRIM_THRESHOLD_BYTES = 256 * 2**20


def _keep_freed_memory() -> None:
    """Raise glibc's mmap and trim thresholds for this process (mallopt); elsewhere nothing to do."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows, musl): their allocators keep their own defaults
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES)
    libc.mallopt(m_trim_threshold, TRIM_THRESHOLD_BYTES)


@cache
def init_worker() -> None:
    """Run once per process (a pool's initializer; the run's own process before its first fits, or
    `executor.preload` ahead of them): quiet the loggers, keep freed arrays' memory for the next ones and
    load the compiled Stan model up front."""
    quiet_stan()
    _keep_freed_memory()
    from prophet import Prophet

    Prophet()  # loads the CmdStan executable once; later models reuse cmdstanpy's state


def _recent_mean(task: FitTask, note: str | None) -> FitResult:
    y = np.asarray(task.y, float)
    recent = y[-RECENT_MONTHS:] if len(y) else np.zeros(1)
    level = float(recent.mean())
    return FitResult(
        key=task.key, series_id=task.series_id, stage=task.stage, method="recent_mean",
        yhat=np.full(len(task.future), level), sigma=float(y.std()) if len(y) > 1 else 0.0,
        n_points=len(y), note=note, model=task.config.name,
        engine="recent_mean",
    )


def _unfittable(task: FitTask) -> str | None:
    y = np.asarray(task.y, float)
    if not np.any(y):
        return "no sales"
    if len(y) < MIN_PROPHET_MONTHS:
        return f"{len(y)} month(s) of history"
    return None


def model_y(task: FitTask) -> np.ndarray:
    """The values Prophet fits for `task`: its units, or their log (`ProphetConfig.transform`)."""
    y = np.asarray(task.y, float)
    return np.log(y) if task.config.log_scale(y) else y


def _in_units(task: FitTask, fitted: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, float]:
    """The forecast and the in-sample residual standard deviation in units, the forecast's level
    corrected where the configuration says (`level_corrected`). On the log scale the forecast is
    exp(yhat + s^2 / 2), s the log-scale residual standard deviation: the mean of a log-normal whose
    median is exp(yhat) (the back-transform's bias correction)."""
    y = np.asarray(task.y, float)
    if task.config.log_scale(y):
        s2 = float(np.var(np.log(y) - fitted))
        correction = np.exp(s2 / 2)
        fitted, forecast = np.exp(fitted) * correction, np.exp(forecast) * correction
    residuals = y - fitted
    return level_corrected(forecast, residuals, task.config.level_months), float(np.std(residuals))


def level_corrected(forecast: np.ndarray, residuals: np.ndarray, months: int | None) -> np.ndarray:
    """The forecast moved by the mean in-sample residual (units) of the latest `months` months: where
    the fitted trend lags the recent level (one straight trend through the last fifth of a long
    history, which Prophet leaves without changepoints), what a forecaster does by hand. Over a
    whole year a seasonal misfit averages out (over half a year the correction follows the level
    sooner). A forecast of its parent's fit, no fit of its own; the backtest finds out where the
    correction helps."""
    if months is None or len(residuals) < months:
        return forecast
    return forecast + float(np.mean(residuals[-months:]))


def damped(yhat: np.ndarray, trend: np.ndarray, factor: np.ndarray, n_history: int, phi: float | None) -> np.ndarray:
    """Prophet's yhat (history then future dates) with the future's trend damped as ETS damps its
    trend: the trend's change into future month h, Prophet's own (its last rate times the month's
    days), shrunk by phi^h, so trend(T+h) = trend(T) + sum_{i<=h} phi^i * step_i. phi = 1 is
    Prophet's forecast, phi = 0 holds the last month's trend. The seasonal terms stay Prophet's:
    yhat = trend * factor + additive terms, `factor` 1 + the multiplicative terms (1 when additive).
    A forecast of its parent's fit, no fit of its own: where the history's last trend is not to be
    extrapolated for long, the backtest finds it out."""
    if phi is None or len(yhat) <= n_history:
        return yhat
    steps = np.diff(trend[n_history - 1:])
    held = trend[n_history - 1] + np.cumsum(phi ** np.arange(1, len(steps) + 1) * steps)
    out = np.array(yhat, float)
    out[n_history:] += (held - trend[n_history:]) * factor[n_history:]
    return out


def _month_holidays(months: np.ndarray, future: np.ndarray):
    ds = pd.to_datetime(np.concatenate([months, future]))
    return pd.DataFrame({"holiday": [f"month_{d.month:02d}" for d in ds], "ds": ds})


def _build_model(config: ProphetConfig, months: np.ndarray, future: np.ndarray):
    from prophet import Prophet

    n_points = len(months)
    model = Prophet(
        holidays=_month_holidays(months, future) if config.month_effects(n_points) else None,
        growth=config.growth,
        yearly_seasonality=config.yearly_order(n_points) or False,
        weekly_seasonality=False,
        daily_seasonality=False,
        seasonality_mode=config.seasonality_mode,
        changepoint_prior_scale=config.changepoint_prior_scale,
        changepoint_range=config.changepoint_range,
        seasonality_prior_scale=config.seasonality_prior_scale,
        # The band is built from residuals and the backtest (see pipeline), so no sampling here.
        uncertainty_samples=0,
    )
    if config.country_holidays:
        model.add_country_holidays(country_name=config.country_holidays)
    return model


def _usable_init(init: dict | None, n_changepoints: int) -> dict | None:
    """Last cycle's parameters, when they fit this model's shape and are not a degenerate fit."""
    if not init or not all(name in init for name in WARM_PARAMS):
        return None
    if len(init["delta"]) != max(n_changepoints, 1) or float(init["sigma_obs"]) < 1e-6:
        return None
    return {
        "k": float(init["k"]), "m": float(init["m"]), "sigma_obs": float(init["sigma_obs"]),
        "delta": np.asarray(init["delta"], float), "beta": np.asarray(init["beta"], float),
    }


def _n_changepoints(model, n_points: int) -> int:
    return max(0, min(model.n_changepoints, int(np.floor(n_points * model.changepoint_range)) - 1))


def _params_json(params: dict) -> str:
    out = {name: np.asarray(params[name], float).reshape(-1).tolist() for name in WARM_PARAMS}
    for name in ("k", "m", "sigma_obs"):
        out[name] = out[name][0]
    return json.dumps(out)


_designs: OrderedDict = OrderedDict()


def _shared_design(task: FitTask, config: ProphetConfig):
    """The exact design of the task's dates and configuration, built once per process (LRU)."""
    from sop_pipeline.forecasting.exact import SharedDesign

    base_key = task.design_key()
    key = (base_key, config.seasonality_mode, config.changepoint_prior_scale)
    if key in _designs:
        _designs.move_to_end(key)
        return _designs[key]
    base = _designs.get((base_key, None, None))
    if base is None:  # Prophet's own preprocessing, once per set of dates; the other configurations vary it
        base = SharedDesign(_build_model(config, task.months, task.future), task.months, task.future)
        _designs[(base_key, None, None)] = base
    design = base
    if base.usable and base.config_of != (config.seasonality_mode, float(config.changepoint_prior_scale)):
        design = base.variant(config.seasonality_mode, config.changepoint_prior_scale)
    _designs[key] = design
    while len(_designs) > DESIGN_CACHE_SIZE:
        _designs.popitem(last=False)
    return design


def fit_exact(task: FitTask) -> FitResult:
    """Fit one series with the exact engine on its shared design; CmdStan where it cannot certify."""
    started = time.perf_counter()
    config = task.config
    if (why := _unfittable(task)) is not None:
        return _recent_mean(task, why)
    y = model_y(task)
    design = _shared_design(task, config)
    if not design.usable:
        return fit_series(task, replace(config, engine="cmdstan"), note="exact engine: no shared design")
    n_changepoints = design.design.S if not design.no_changepoints else 0
    init = _usable_init(task.init, n_changepoints)
    fit = design.fit(y, init)
    return _exact_result(task, fit, n_changepoints, init is not None, time.perf_counter() - started)


def fit_task(task: FitTask) -> FitResult:
    """Fit one task with its configuration's engine."""
    if task.config.engine == "exact":
        return fit_exact(task)
    return fit_series(task, task.config)


def fit_series(task: FitTask, config: ProphetConfig | None = None, note: str | None = None) -> FitResult:
    """Fit one series with CmdStan (Prophet's own backend) and forecast `task.future`.

    `note` says why an exact fit came here (recorded in the result's engine)."""
    started = time.perf_counter()
    config = config or task.config
    y = model_y(task)
    if (why := _unfittable(task)) is not None:
        return _recent_mean(task, why)
    model = _build_model(config, task.months, task.future)
    history = pd.DataFrame({"ds": pd.to_datetime(task.months), "y": y})
    n_changepoints = _n_changepoints(model, len(y))
    init = _usable_init(task.init, n_changepoints)
    try:
        if init is not None:
            model.stan_backend.newton_fallback = False  # a failed warm fit is redone cold, below
            try:
                model.fit(history, init=init, **WARM_FIT)
                # Prophet silently swaps a start of the wrong shape for its default one.
                started_warm = np.asarray(model.params["beta"]).size == init["beta"].size
            except RuntimeError:
                started_warm = False
            if not started_warm:
                model.stan_backend.cleanup()
                model, init = _build_model(config, task.months, task.future), None
        if init is None:
            model.fit(history)
        log_posterior = float(model.stan_backend.stan_fit.optimized_params_dict["lp__"])
        frame = model.predict(pd.DataFrame({"ds": pd.to_datetime(np.concatenate([task.months, task.future]))}))
        predicted = damped(frame["yhat"].to_numpy(), frame["trend"].to_numpy(),
                           1.0 + frame["multiplicative_terms"].to_numpy(), len(y), config.damping)
    except Exception as exc:  # a Stan failure on an odd series must not stop the whole run
        return _recent_mean(task, f"Prophet failed: {exc}")
    finally:
        if model.stan_backend is not None:
            model.stan_backend.cleanup()  # cmdstan's CSV and stdout files
    forecast, sigma = _in_units(task, predicted[: len(y)], predicted[len(y):])
    return FitResult(
        key=task.key, series_id=task.series_id, stage=task.stage, method="prophet",
        yhat=forecast, sigma=sigma, n_points=len(y),
        params_json=_params_json(model.params) if task.keep_params else None, n_changepoints=n_changepoints,
        warm_started=init is not None, log_posterior=log_posterior,
        seconds=time.perf_counter() - started, model=config.name,
        engine="cmdstan" if note is None else f"cmdstan (fallback: {note})",
    )


def _exact_result(task: FitTask, fit, n_changepoints: int, warm: bool, seconds: float) -> FitResult:
    """The result of an exact fit (`SeriesFit`) for `task`: its forecast, damped where the
    configuration says, in units."""
    y = model_y(task)  # the values fitted: units, or their log (the configuration's transform)
    if not fit.converged:
        return fit_series(task, replace(task.config, engine="cmdstan"), note=fit.method)
    yhat = damped(fit.yhat, fit.trend, fit.factor, len(y), task.config.damping)
    forecast, sigma = _in_units(task, yhat[: len(y)], yhat[len(y):])
    return FitResult(
        key=task.key, series_id=task.series_id, stage=task.stage, method="prophet",
        yhat=forecast, sigma=sigma, n_points=len(y),
        params_json=_params_json(fit.params) if task.keep_params else None, n_changepoints=n_changepoints,
        warm_started=warm, log_posterior=fit.lp, seconds=seconds,
        model=task.config.name, engine=fit.method,
    )


def fit_exact_batch(tasks: list[FitTask], additive_optima: dict | None = None) -> list[FitResult]:
    """`fit_exact` for tasks of one design and configuration (equal `design_key`, seasonality mode
    and changepoint prior), their solves batched (`SharedDesign.fit_many`): the same results.

    `additive_optima` (shared by the batches of one chunk, `fit_chunk`): an additive batch leaves its
    certified optima there, and a multiplicative batch of the same dates, prior and values starts
    from them instead of solving that additive problem again (`exact.solve_batch`)."""
    started = time.perf_counter()
    results: list[FitResult | None] = [None] * len(tasks)
    todo = []
    for i, task in enumerate(tasks):
        if (why := _unfittable(task)) is not None:
            results[i] = _recent_mean(task, why)
        else:
            todo.append(i)
    if todo:
        config = tasks[todo[0]].config
        design = _shared_design(tasks[todo[0]], config)
        if not design.usable or len(todo) == 1:
            for i in todo:
                results[i] = fit_exact(tasks[i])
        else:
            n_changepoints = design.design.S if not design.no_changepoints else 0
            inits = [_usable_init(tasks[i].init, n_changepoints) for i in todo]
            # One solve per distinct problem: a damped configuration fits what its parent fits (the
            # same values, no warm start of its own), only its forecast differs.
            ys = [model_y(tasks[i]) for i in todo]
            problem = [y.tobytes() if init is None else n for n, (y, init) in enumerate(zip(ys, inits, strict=True))]
            first_of: dict = {}
            for n, p in enumerate(problem):
                first_of.setdefault(p, n)
            solve = list(first_of.values())  # each problem's first task, in task order
            pair = pair_key(tasks[todo[0]]) if additive_optima is not None and n_changepoints else None
            known = None
            if pair and config.seasonality_mode == "multiplicative":
                known = [additive_optima.get((pair, ys[n].tobytes())) for n in solve]
            solved = design.fit_many(np.stack([ys[n] for n in solve]), [inits[n] for n in solve], known)
            fits = dict(zip(solve, solved, strict=True))
            if pair and config.seasonality_mode == "additive":
                for n, fit in fits.items():
                    if fit.certified:
                        additive_optima[(pair, ys[n].tobytes())] = fit.optimum
            each = (time.perf_counter() - started) / len(todo)  # the batch's time, shared out
            for n, (i, init) in enumerate(zip(todo, inits, strict=True)):
                results[i] = _exact_result(tasks[i], fits[first_of[problem[n]]], n_changepoints, init is not None, each)
    return results  # type: ignore[return-value]


def batch_key(task: FitTask) -> tuple:
    """Tasks with equal keys are solved as one batch: one design, one configuration, one engine."""
    c = task.config
    return (task.design_key(), c.seasonality_mode, c.changepoint_prior_scale, c.engine)


def pair_key(task: FitTask) -> tuple:
    """`batch_key` but for the seasonality mode: an additive batch and the multiplicative one it
    starts (`fit_exact_batch`). The executor keeps such pairs in one chunk."""
    c = task.config
    return (task.design_key(), c.changepoint_prior_scale, c.engine)


def chunk_order(task: FitTask) -> tuple:
    """The order the executor chunks exact tasks in: by pair, then series, additive before multiplicative."""
    return (*map(str, pair_key(task)), task.series_id, task.stage, task.config.seasonality_mode, task.config.name)


@cache
def _blas() -> ThreadpoolController:
    """NumPy's and SciPy's BLAS libraries (both loaded first, so the controller sees both)."""
    import scipy.linalg.lapack  # noqa: F401 - the exact engine's LAPACK, a BLAS of its own
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def fit_chunk(tasks: list[FitTask]) -> list[FitResult]:
    """A batch of fits: one pickled call per chunk keeps the per-task overhead small. Exact tasks
    that share a design and configuration are solved together (`fit_exact_batch`).

    BLAS runs on one thread here: the exact engine's systems are a few dozen rows, too small for
    OpenBLAS's threads to pay for their start and spin (1,000 generated SKUs, 1 worker: 31.8 ->
    30.8 s wall, 35.3 -> 30.8 CPU s), and with several workers each process has a core of its own."""
    with _blas().limit(limits=1, user_api="blas"):
        return _fit_chunk(tasks)


def _fit_chunk(tasks: list[FitTask]) -> list[FitResult]:
    quiet_stan()  # idempotent; Dask workers have no initializer of ours
    groups: dict[tuple, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(batch_key(task), []).append(i)
    results: list[FitResult | None] = [None] * len(tasks)
    additive_optima: dict = {}  # additive batches first: their optima start the multiplicative ones
    for key in sorted(groups, key=lambda k: k[1] != "additive"):
        members = groups[key]
        batch = [tasks[i] for i in members]
        fitted = fit_exact_batch(batch, additive_optima) if batch[0].config.engine == "exact" else [fit_task(t) for t in batch]
        for i, result in zip(members, fitted, strict=True):
            results[i] = result
    return results  # type: ignore[return-value]
