"""Demand forecast for one plan cycle: Prophet per series, reconciled, backtested, coherent.

How the published numbers are made
- Series: the total, every family, and every SKU with enough history (`min_history_months` months
  since its first sale, `min_nonzero_months` selling months) that sold in the last
  `inactive_after_months` months. Each is one Prophet fit on month-start buckets.
- top_down: a family's own forecast, split to its SKUs by share. A SKU's share is its average
  monthly units over the last `share_months` months *while it existed*, relative to the other
  active SKUs of the family, so a SKU launched three months ago gets its run rate, not a quarter
  of it. bottom_up: each fitted SKU's own forecast; SKUs too short or sparse to fit take their
  share of the family forecast ("family_share"); the family is the sum.
- SKUs with no sales in the last `inactive_after_months` months get zero ("inactive").
- Coherence: the family number is computed as the sum of its SKU numbers and the total as the sum
  of the families, so they add up exactly (to rounding) whatever the approach.
- approach `best`: per family, the approach with the lower family-level WAPE in the backtest
  (top_down on ties or where neither can be scored).

Backtest: the last `backtest_months` months of history are held out, everything above is redone
on the months before them (classification, shares, fits), and each level is scored against the
actuals, next to a seasonal-naive baseline (same month last year).

Prediction band (Prophet's sampling is off): for a series with in-sample residual standard
deviation s and backtest RMSE r over a held-out window whose mean horizon is h_mid, the error
at horizon h is sigma_h = max(s, r * sqrt(h / h_mid)) (random-walk-like growth of forecast error,
anchored on the error actually seen out of sample); the band is yhat +- z * sigma_h with z the
normal quantile for `interval_width`, floored at zero. Families and the total take the band of
their own model around the coherent number; SKUs that are a share of their family take that share
of the family's band; fitted SKUs under bottom_up take their own. Bands therefore bracket yhat but
need not add up across levels (errors of SKUs are not perfectly correlated).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from statistics import NormalDist

import numpy as np
import polars as pl

from sop_pipeline.common.errors import InputDataError
from sop_pipeline.common.months import month_array, month_number
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import metrics
from sop_pipeline.forecasting.executor import run_fits
from sop_pipeline.forecasting.fitting import YEARLY_MIN_MONTHS, FitResult, FitTask, ProphetConfig

TOTAL = "total"
FORECAST_SCHEMA = {
    "level": pl.String, "series_key": pl.String, "family": pl.String, "sku": pl.String,
    "month": pl.Date, "method": pl.String, "yhat": pl.Float64, "yhat_lower": pl.Float64,
    "yhat_upper": pl.Float64,
}
ACCURACY_SCHEMA = {
    "level": pl.String, "series_key": pl.String, "family": pl.String, "method": pl.String,
    "wape": pl.Float64, "mape": pl.Float64, "bias": pl.Float64, "mase": pl.Float64,
    "n_points": pl.Int64, "sum_abs_error": pl.Float64, "sum_actual": pl.Float64, "note": pl.String,
}
PARAMS_SCHEMA = {
    "series_id": pl.String, "stage": pl.String, "n_changepoints": pl.Int64, "n_points": pl.Int64,
    "params_json": pl.String,
}


@dataclass
class ForecastResult:
    forecast: pl.DataFrame          # FORECAST_SCHEMA, horizon months only
    accuracy: pl.DataFrame          # ACCURACY_SCHEMA, backtest scores
    approach_by_family: dict[str, str]
    params: pl.DataFrame            # PARAMS_SCHEMA, for the next cycle's warm start
    stats: dict


# ----------------------------------------------------------------------------------------------


@dataclass
class _View:
    """SKU x month matrix of units: NaN before a SKU's first sale, zero after its last."""

    first_month: int          # month number of column 0
    units: np.ndarray         # (n_sku, n_month)
    sku: np.ndarray           # str
    family: np.ndarray        # str, per SKU
    families: list[str]

    @property
    def n_months(self) -> int:
        return self.units.shape[1]

    def truncated(self, n_months: int) -> _View:
        keep = ~np.isnan(self.units[:, :n_months]).all(axis=1)
        fam = self.family[keep]
        return _View(self.first_month, self.units[keep, :n_months], self.sku[keep], fam,
                     sorted(set(fam.tolist())))


def _validate(history: pl.DataFrame, cycle: date) -> pl.DataFrame:
    """Check the input and return it with `month` as a Date column."""
    where = "demand history"
    if not isinstance(cycle, date) or isinstance(cycle, datetime) or cycle.day != 1:
        raise InputDataError(f"The plan cycle {cycle!r} is not the first day of a month",
                             where="plan cycle", fix="Pass the cycle as date(YYYY, MM, 1)")
    missing = [c for c in ("family", "sku", "month", "units") if c not in history.columns]
    if missing:
        raise InputDataError(f"The demand history lacks column(s) {', '.join(missing)}", where=where,
                             fix="Provide family, sku, month, units (and revenue) per SKU and month")
    month_type = history.schema["month"]
    if not (month_type == pl.Date or isinstance(month_type, pl.Datetime)):
        raise InputDataError(f"The month column is {month_type}, not a date", where=where,
                             fix="Pass months as dates (the first day of each month)")
    history = history.with_columns(pl.col("month").cast(pl.Date))
    if history.height == 0:
        raise InputDataError("The demand history is empty", where=where,
                             fix="Check the sales files and their date range")
    for column in ("family", "sku", "month", "units"):
        nulls = history.filter(pl.col(column).is_null())
        if nulls.height:
            row = nulls.row(0, named=True)
            raise InputDataError(f"{nulls.height} row(s) have no {column}",
                                 where=f"{where}, e.g. family={row['family']!r}, sku={row['sku']!r}",
                                 fix=f"Fill or drop rows without {column}")
    not_first = history.filter(pl.col("month").dt.day() != 1)
    if not_first.height:
        row = not_first.row(0, named=True)
        raise InputDataError(f"{not_first.height} row(s) have a month that is not the first day of a month",
                             where=f"{where}, e.g. sku={row['sku']!r}, month={row['month']}",
                             fix="Bucket the history to months (first day of each month) before forecasting")
    late = history.filter(pl.col("month") >= cycle)
    if late.height:
        row = late.row(0, named=True)
        raise InputDataError(
            f"The demand history has {late.height} row(s) in or after the plan cycle {cycle:%Y-%m}",
            where=f"{where}, e.g. sku={row['sku']!r}, month={row['month']}",
            fix="Forecast a later cycle, or drop the months that are not history yet")
    dupes = history.group_by("family", "sku", "month").len().filter(pl.col("len") > 1)
    if dupes.height:
        row = dupes.row(0, named=True)
        raise InputDataError(f"{dupes.height} family/sku/month combination(s) appear more than once",
                             where=f"{where}, e.g. sku={row['sku']!r}, month={row['month']}",
                             fix="Aggregate the history to one row per family, SKU and month")
    split = history.group_by("sku").agg(pl.col("family").n_unique().alias("n")).filter(pl.col("n") > 1)
    if split.height:
        raise InputDataError(f"SKU {split['sku'][0]!r} belongs to more than one family", where=where,
                             fix="Give each SKU a single family in the sales files")
    return history


def _build_view(history: pl.DataFrame) -> _View:
    frame = history.select(
        pl.col("family").cast(pl.String), pl.col("sku").cast(pl.String),
        (pl.col("month").dt.year() * 12 + pl.col("month").dt.month() - 1).alias("m"),
        pl.col("units").cast(pl.Float64),
    )
    first, last = int(frame["m"].min()), int(frame["m"].max())
    skus = frame.group_by("family", "sku").agg(pl.col("m").min().alias("start")).sort("family", "sku")
    row_of = {s: i for i, s in enumerate(skus["sku"].to_list())}
    units = np.full((skus.height, last - first + 1), np.nan)
    rows = np.array([row_of[s] for s in frame["sku"].to_list()], dtype=int)
    units[rows, frame["m"].to_numpy() - first] = frame["units"].to_numpy()
    # Between the first sale and the end of history a missing month is a month without sales.
    started = np.arange(units.shape[1])[None, :] >= (skus["start"].to_numpy() - first)[:, None]
    units = np.where(started, np.nan_to_num(units, nan=0.0), np.nan)
    family = skus["family"].to_numpy().astype(str)
    return _View(first, units, skus["sku"].to_numpy().astype(str), family, sorted(set(family.tolist())))


# ----------------------------------------------------------------------------------------------
# One view (the full history, or the backtest's training part): classify, then build fit tasks.

@dataclass
class _Prep:
    view: _View
    stage: str
    future: np.ndarray             # datetime64[D] months forecast by every series of this view
    fam_of: np.ndarray             # family index per SKU
    fam_y: list[np.ndarray]        # family series from the family's first month
    total_y: np.ndarray
    active: np.ndarray
    fitted: np.ndarray             # SKUs fitted alone (bottom_up)
    share: np.ndarray              # share of the family forecast per SKU (0 when inactive)
    tasks: list[FitTask]


def _series_id(level: str, key: str) -> str:
    return f"{level}|{key}"


def _prepare(view: _View, settings: ForecastSettings, stage: str, n_future: int,
             warm: dict[tuple[str, str], dict]) -> _Prep:
    units0 = np.nan_to_num(view.units, nan=0.0)
    present = ~np.isnan(view.units)
    fam_index = {f: i for i, f in enumerate(view.families)}
    fam_of = np.array([fam_index[f] for f in view.family], dtype=int)

    selling = units0 != 0
    active = selling[:, -settings.inactive_after_months:].any(axis=1)
    fitted = (active & (present.sum(axis=1) >= settings.min_history_months)
              & (selling.sum(axis=1) >= settings.min_nonzero_months))
    window = slice(-settings.share_months, None)
    months_present = np.maximum(present[:, window].sum(axis=1), 1)
    rate = np.clip(units0[:, window].sum(axis=1) / months_present, 0, None) * active
    share = np.zeros(len(view.sku))
    for f in range(len(view.families)):
        members = fam_of == f
        if rate[members].sum() > 0:
            share[members] = rate[members] / rate[members].sum()
        elif active[members].any():  # active but no positive units in the window: split evenly
            share[members] = active[members] / active[members].sum()

    months = month_array(view.first_month, view.n_months)
    future = month_array(view.first_month + view.n_months, n_future)
    tasks, fam_y = [], []

    def add(level: str, key: str, start: int, y: np.ndarray) -> None:
        series_id = _series_id(level, key)
        tasks.append(FitTask(key=f"{stage}|{series_id}", series_id=series_id, stage=stage,
                             months=months[start:], y=y[start:], future=future,
                             init=warm.get((series_id, stage))))

    total_y = units0.sum(axis=0)
    add(TOTAL, TOTAL, 0, total_y)
    for f, name in enumerate(view.families):
        members = fam_of == f
        start = int(np.argmax(present[members].any(axis=0)))
        y = units0[members].sum(axis=0)
        fam_y.append(y[start:])
        add("family", name, start, y)
    for i in np.flatnonzero(fitted):
        add("sku", view.sku[i], int(np.argmax(present[i])), units0[i])
    return _Prep(view, stage, future, fam_of, fam_y, total_y, active, fitted, share, tasks)


@dataclass
class _Numbers:
    """Forecasts of one view for every level and approach (rows: families or SKUs; cols: months)."""

    fam_td: np.ndarray
    fam_bu: np.ndarray
    sku_td: np.ndarray
    sku_bu: np.ndarray
    total_td: np.ndarray
    fam_fit: list[FitResult]
    total_fit: FitResult
    sku_fit: dict[int, FitResult]


def _assemble(prep: _Prep, fits: dict[str, FitResult]) -> _Numbers:
    def fit_of(level: str, key: str) -> FitResult:
        return fits[f"{prep.stage}|{_series_id(level, key)}"]

    def floored(result: FitResult) -> np.ndarray:
        return np.clip(np.nan_to_num(result.yhat, nan=0.0), 0, None)

    fam_fit = [fit_of("family", name) for name in prep.view.families]
    fam_td = np.vstack([floored(r) for r in fam_fit])
    # A family whose SKUs are all inactive has no share to give: its top-down numbers are zero.
    sku_td = prep.share[:, None] * fam_td[prep.fam_of]
    sku_fit = {int(i): fit_of("sku", prep.view.sku[i]) for i in np.flatnonzero(prep.fitted)}
    sku_bu = sku_td.copy()
    for i, result in sku_fit.items():
        sku_bu[i] = floored(result)
    n_fam = len(prep.view.families)
    fam_bu = np.vstack([sku_bu[prep.fam_of == f].sum(axis=0) for f in range(n_fam)])
    fam_td_coherent = np.vstack([sku_td[prep.fam_of == f].sum(axis=0) for f in range(n_fam)])
    total_fit = fit_of(TOTAL, TOTAL)
    return _Numbers(fam_td_coherent, fam_bu, sku_td, sku_bu, floored(total_fit), fam_fit, total_fit, sku_fit)


# ----------------------------------------------------------------------------------------------
# Backtest scoring

def _score(level, key, family, method, actual, forecast, train) -> dict:
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    return {
        "level": level, "series_key": key, "family": family, "method": method,
        "wape": metrics.wape(actual, forecast), "mape": metrics.mape(actual, forecast),
        "bias": metrics.bias(actual, forecast), "mase": metrics.mase(actual, forecast, train),
        "n_points": len(actual), "sum_abs_error": float(np.abs(forecast - actual).sum()),
        "sum_actual": float(actual.sum()),
    }


def _choose(approach: str, wape_td: float | None, wape_bu: float | None) -> str:
    if approach != "best":
        return approach
    if wape_td is not None and wape_bu is not None and wape_bu < wape_td:
        return "bottom_up"
    return "top_down"


def _backtest(full: _View, prep: _Prep, nums: _Numbers, approach: str):
    """Score every level; returns (accuracy rows, choice per family, RMSE per series id)."""
    n_train = prep.view.n_months
    actual_all = np.nan_to_num(full.units[:, n_train:], nan=0.0)
    row_in_full = {s: i for i, s in enumerate(full.sku)}
    sku_actual = actual_all[[row_in_full[s] for s in prep.view.sku]]
    rows, choice, rmse = [], {}, {}

    def rmse_of(actual, forecast):
        return float(np.sqrt(np.mean((np.asarray(forecast) - actual) ** 2)))

    chosen_fam = []
    for f, name in enumerate(prep.view.families):
        actual = actual_all[full.family == name].sum(axis=0)
        train = prep.fam_y[f]
        scored = {
            "top_down": _score("family", name, name, "top_down", actual, nums.fam_td[f], train),
            "bottom_up": _score("family", name, name, "bottom_up", actual, nums.fam_bu[f], train),
            "seasonal_naive": _score("family", name, name, "seasonal_naive", actual,
                                     metrics.seasonal_naive(train, len(actual)), train),
        }
        choice[name] = _choose(approach, scored["top_down"]["wape"], scored["bottom_up"]["wape"])
        rows += list(scored.values()) + [{**scored[choice[name]], "method": "chosen"}]
        chosen_fam.append(nums.fam_td[f] if choice[name] == "top_down" else nums.fam_bu[f])
        rmse[_series_id("family", name)] = rmse_of(actual, np.clip(nums.fam_fit[f].yhat, 0, None))

    total_actual = actual_all.sum(axis=0)
    for method, forecast in (
        ("top_down", nums.total_td), ("bottom_up", nums.fam_bu.sum(axis=0)),
        ("seasonal_naive", metrics.seasonal_naive(prep.total_y, len(total_actual))),
        ("chosen", np.sum(chosen_fam, axis=0)),
    ):
        rows.append(_score(TOTAL, TOTAL, None, method, total_actual, forecast, prep.total_y))
    rmse[_series_id(TOTAL, TOTAL)] = rmse_of(total_actual, nums.total_td)

    for i in nums.sku_fit:
        sku, family = prep.view.sku[i], prep.view.family[i]
        train = prep.view.units[i][~np.isnan(prep.view.units[i])]
        actual = sku_actual[i]
        by_method = {"top_down": nums.sku_td[i], "bottom_up": nums.sku_bu[i],
                     "seasonal_naive": metrics.seasonal_naive(train, len(actual))}
        by_method["chosen"] = by_method[choice[family]]
        rows += [_score("sku", sku, family, m, actual, fc, train) for m, fc in by_method.items()]
        rmse[_series_id("sku", sku)] = rmse_of(actual, nums.sku_bu[i])
    return rows, choice, rmse


def _with_history_notes(rows: list[dict], final: _Prep, settings: ForecastSettings, backtested: bool) -> list[dict]:
    """Say in the accuracy table where the history is too short for a backtest or a yearly shape.

    Without a backtest every family and the total get one `not_backtested` row (no scores) carrying
    the reason; a series with less than two years of history is forecast without a yearly shape."""
    lengths = {(TOTAL, TOTAL): len(final.total_y)}
    lengths |= {("family", name): len(y) for name, y in zip(final.view.families, final.fam_y)}
    notes: dict[tuple[str, str], str] = {}
    for key, months in lengths.items():
        said = []
        if not backtested:
            said.append(f"{months} month(s) of history: not backtested (forecast.backtest_months = "
                        f"{settings.backtest_months} holds out that many months and needs more before them)")
        if months < YEARLY_MIN_MONTHS:
            said.append(f"{months} month(s) of history: no yearly seasonal shape is fitted "
                        f"(it needs {YEARLY_MIN_MONTHS}), the forecast follows the level and trend")
        if said:
            notes[key] = "; ".join(said)
    if not backtested:
        rows = [{"level": level, "series_key": key, "family": None if level == TOTAL else key,
                 "method": "not_backtested", "n_points": 0} for level, key in lengths]
    return [{**row, "note": notes.get((row["level"], row["series_key"]))} for row in rows]


# ----------------------------------------------------------------------------------------------
# Publishing

def _half_width(result: FitResult, rmse: float | None, steps: int, h_mid: float, z: float) -> np.ndarray:
    h = np.arange(1, steps + 1)
    error = result.sigma if rmse is None else rmse
    return z * np.maximum(result.sigma, error * np.sqrt(h / h_mid))


def _publish(prep: _Prep, nums: _Numbers, choice: dict[str, str], rmse: dict[str, float],
             settings: ForecastSettings, horizon: slice) -> pl.DataFrame:
    view = prep.view
    steps = len(prep.future)
    h_mid = (settings.backtest_months + 1) / 2
    z = NormalDist().inv_cdf((1 + settings.interval_width) / 2)

    def half(level: str, key: str, result: FitResult) -> np.ndarray:
        return _half_width(result, rmse.get(_series_id(level, key)), steps, h_mid, z)

    fam_half = np.vstack([half("family", name, r) for name, r in zip(view.families, nums.fam_fit)])
    sku_yhat = np.zeros_like(nums.sku_td)
    sku_half = prep.share[:, None] * fam_half[prep.fam_of]
    sku_method = np.empty(len(view.sku), dtype=object)
    fam_label = [r.method for r in nums.fam_fit]  # "prophet" or its fallback
    for i, family in enumerate(view.family):
        f = prep.fam_of[i]
        bottom_up = choice[family] == "bottom_up"
        if not prep.active[i]:
            sku_method[i] = "inactive"
            sku_half[i] = 0.0
        elif bottom_up and i in nums.sku_fit:
            result = nums.sku_fit[i]
            sku_method[i] = "prophet_bottom_up" if result.method == "prophet" else result.method
            sku_half[i] = half("sku", view.sku[i], result)
        elif bottom_up:
            sku_method[i] = "family_share"
        else:
            sku_method[i] = "prophet_top_down" if fam_label[f] == "prophet" else "family_share"
        sku_yhat[i] = nums.sku_bu[i] if bottom_up else nums.sku_td[i]

    months = prep.future[horizon]
    frames = []

    def add(level, keys, families, skus, methods, yhat, half_width):
        yhat = yhat[:, horizon]
        lower = np.clip(yhat - half_width[:, horizon], 0, None)
        upper = yhat + half_width[:, horizon]
        n_rows, n_months = yhat.shape
        frames.append(pl.DataFrame({
            "level": [level] * (n_rows * n_months),
            "series_key": np.repeat(np.asarray(keys, dtype=object), n_months).tolist(),
            "family": np.repeat(np.asarray(families, dtype=object), n_months).tolist(),
            "sku": np.repeat(np.asarray(skus, dtype=object), n_months).tolist(),
            "month": np.tile(months, n_rows),
            "method": np.repeat(np.asarray(methods, dtype=object), n_months).tolist(),
            "yhat": yhat.reshape(-1), "yhat_lower": lower.reshape(-1), "yhat_upper": upper.reshape(-1),
        }, schema=FORECAST_SCHEMA))

    n_fam = len(view.families)
    # Coherent by construction: a family is the sum of its SKUs, the total the sum of families.
    fam_yhat = np.vstack([sku_yhat[prep.fam_of == f].sum(axis=0) for f in range(n_fam)])
    fam_method = []
    for f, name in enumerate(view.families):
        if not prep.active[prep.fam_of == f].any():
            fam_method.append("inactive")
        elif fam_label[f] != "prophet":
            fam_method.append(fam_label[f])
        else:
            fam_method.append(f"prophet_{choice[name]}")
    total_half = half(TOTAL, TOTAL, nums.total_fit)[None, :]
    add(TOTAL, [TOTAL], [None], [None], ["sum_of_families"], fam_yhat.sum(axis=0)[None, :], total_half)
    add("family", view.families, view.families, [None] * n_fam, fam_method, fam_yhat, fam_half)
    add("sku", view.sku, view.family, view.sku, sku_method, sku_yhat, sku_half)
    return pl.concat(frames)


def _warm_lookup(params: pl.DataFrame | None) -> dict[tuple[str, str], dict]:
    if params is None or params.height == 0:
        return {}
    stage = params["stage"] if "stage" in params.columns else pl.Series(["final"] * params.height)
    return {(sid, st): json.loads(text)
            for sid, st, text in zip(params["series_id"], stage, params["params_json"]) if text}


def forecast_demand(
    history: pl.DataFrame,
    settings: ForecastSettings,
    cycle: date,
    warm_start_params: pl.DataFrame | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ForecastResult:
    """Forecast every SKU, family and the total for `settings.horizon_months` months from `cycle`.

    history: family (str), sku (str), month (date, first of month), units (float) [, revenue]; one
    row per family, SKU and month, months strictly before `cycle`.
    warm_start_params: a previous result's `params` frame (series_id, stage, params_json, ...).
    progress: called as fits finish with (series done, series total, key of the last one).

    With `workers` > 1 the fits run in spawned processes: a script calling this must guard its
    entry point with `if __name__ == "__main__":` (as any multiprocessing program must).
    """
    started = time.perf_counter()
    history = _validate(history, cycle)
    full = _build_view(history)
    last_month = full.first_month + full.n_months - 1
    n_future = month_number(cycle) - last_month - 1 + settings.horizon_months
    horizon = slice(n_future - settings.horizon_months, None)
    warm = _warm_lookup(warm_start_params) if settings.warm_start else {}

    final = _prepare(full, settings, "final", n_future, warm)
    backtest = None
    if full.n_months > settings.backtest_months:
        training = full.truncated(full.n_months - settings.backtest_months)
        backtest = _prepare(training, settings, "backtest", settings.backtest_months, warm)
    tasks = final.tasks + (backtest.tasks if backtest else [])
    config = ProphetConfig(settings.seasonality_mode, settings.changepoint_prior_scale,
                           settings.seasonality_prior_scale, settings.country_holidays)
    workers = settings.resolved_workers()
    fit_started = time.perf_counter()
    fits = run_fits(tasks, config, workers, settings.executor, settings.dask_address, progress)
    fit_seconds = time.perf_counter() - fit_started

    rows, choice, rmse = [], {}, {}
    if backtest is not None:
        rows, choice, rmse = _backtest(full, backtest, _assemble(backtest, fits), settings.approach)
    default = "top_down" if settings.approach == "best" else settings.approach
    choice = {name: choice.get(name, default) for name in full.families}
    forecast = _publish(final, _assemble(final, fits), choice, rmse, settings, horizon)

    rows = _with_history_notes(rows, final, settings, backtest is not None)
    prophet_fits = [r for r in fits.values() if r.method == "prophet"]
    params = pl.DataFrame(
        [{"series_id": r.series_id, "stage": r.stage, "n_changepoints": r.n_changepoints,
          "n_points": r.n_points, "params_json": r.params_json} for r in prophet_fits],
        schema=PARAMS_SCHEMA,
    )
    stats = {
        "series_fitted": len(prophet_fits),
        "fallback_fits": len(fits) - len(prophet_fits),
        "warm_started": sum(r.warm_started for r in prophet_fits),
        "skus": len(full.sku),
        "skus_fitted": int(final.fitted.sum()),
        "skus_inactive": int((~final.active).sum()),
        "skus_family_share": int((final.active & ~final.fitted).sum()),
        "backtest": backtest is not None,
        "workers": workers if settings.executor == "local" else None,
        "executor": settings.executor,
        "fit_seconds": round(fit_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return ForecastResult(
        forecast=forecast,
        accuracy=pl.DataFrame(rows, schema=ACCURACY_SCHEMA),
        approach_by_family=choice,
        params=params,
        stats=stats,
    )
