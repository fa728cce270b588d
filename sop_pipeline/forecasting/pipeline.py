"""Demand forecast for one plan cycle: Prophet per series and configuration, backtested on rolling
origins, reconciled across levels, coherent.

How the published numbers are made
- Series: the total, every family, and every SKU with enough history (`min_history_months` months
  since its first sale, `min_nonzero_months` selling months) that sold in the last
  `inactive_after_months` months (a family's only SKU is the family's own series). Each is a
  Prophet fit on month-start buckets, with the exact in-process engine by default (`forecast.engine`).
- Models (`forecast.models`): a few Prophet configurations compete per series (`models.py`); each
  series keeps the one with the lowest pooled WAPE over the backtest's origins.
- Approaches, per family: top_down (the family's own forecast split to its SKUs by share),
  bottom_up (each fitted SKU's own forecast; the others take their share of the family forecast),
  from_total (the total's forecast split to families by their share, then to SKUs), reconciled
  (every level's forecast combined by MinTrace, `reconcile.py`). A SKU's share is its average
  monthly units over the last `share_months` months *while it existed*, relative to the other
  active SKUs of its family (a family's share of the total likewise), so a SKU launched three
  months ago gets its run rate, not a quarter of it.
- SKUs with no sales in the last `inactive_after_months` months get zero ("inactive").
- Coherence: a family's number is the sum of its SKU numbers and the total the sum of the
  families, whatever the approach.
- approach `best`: per family, the approach with the lowest family-level WAPE pooled over the
  backtest's origins (top_down on ties or where none can be scored).

Rolling-origin backtest: up to `backtest_origins` forecast origins `backtest_step_months` apart,
the latest holding out the last `backtest_months` months. Everything above (classification,
shares, every configuration's fit) is redone on the months before each origin and scored against
the actuals after it, next to a seasonal-naive baseline (same month last year). A history too short
for that holds out fewer months (at least 12 months stay for training and 3 are held out), and
where origins do not fit backwards the others move forwards, scored on the months left; shorter
histories are not backtested.

Prediction band (Prophet's sampling is off): for a series with in-sample residual standard
deviation s and backtest RMSE r over its origins' held-out months, whose mean horizon is h_mid, the
error at horizon h is sigma_h = max(s, r * sqrt(h / h_mid)) (random-walk-like growth of forecast
error, anchored on the error actually seen out of sample); the band is yhat +- z * sigma_h with z
the normal quantile for `interval_width`, floored at zero. Families and the total take the band of
their own model around the coherent number; SKUs that are a share of their family take that share
of the family's band; fitted SKUs published from their own fit take their own. Bands therefore
bracket yhat but need not add up across levels (errors of SKUs are not perfectly correlated).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import NormalDist

import numpy as np
import polars as pl

from sop_pipeline.common.errors import InputDataError
from sop_pipeline.common.months import month_array, month_number
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import metrics
from sop_pipeline.forecasting.executor import prewarm, release_pool, run_fits
from sop_pipeline.forecasting.fitting import YEARLY_MIN_MONTHS, FitResult, FitTask, ProphetConfig
from sop_pipeline.forecasting.models import model_configs
from sop_pipeline.forecasting.reconcile import reconcile

TOTAL = "total"
APPROACHES = ("top_down", "bottom_up", "from_total", "reconciled")
MIN_TRAIN_MONTHS = 12      # the shortest training window of a backtest origin
MIN_HOLDOUT_MONTHS = 3     # and the fewest months it holds out
MODEL_SWITCH_MARGIN = 0.05  # a series changes configuration when another's backtest WAPE is 5% lower
FORECAST_SCHEMA = {
    "level": pl.String, "series_key": pl.String, "family": pl.String, "sku": pl.String,
    "month": pl.Date, "method": pl.String, "yhat": pl.Float64, "yhat_lower": pl.Float64,
    "yhat_upper": pl.Float64, "model": pl.String,
}
ACCURACY_SCHEMA = {
    "level": pl.String, "series_key": pl.String, "family": pl.String, "method": pl.String,
    "wape": pl.Float64, "mape": pl.Float64, "bias": pl.Float64, "mase": pl.Float64,
    "n_points": pl.Int64, "sum_abs_error": pl.Float64, "sum_actual": pl.Float64, "note": pl.String,
    "model": pl.String,
}
PARAMS_SCHEMA = {
    "series_id": pl.String, "stage": pl.String, "n_changepoints": pl.Int64, "n_points": pl.Int64,
    "params_json": pl.String, "model": pl.String,
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
# One view (the full history, or a backtest origin's training part): classify, then build fit tasks.

@dataclass
class _Prep:
    view: _View
    stage: str
    future: np.ndarray             # datetime64[D] months forecast by every series of this view
    fam_of: np.ndarray             # family index per SKU
    fam_start: list[int]           # a family's first month (column of the view)
    fam_y: list[np.ndarray]        # family series from the family's first month
    total_y: np.ndarray
    active: np.ndarray
    fitted: np.ndarray             # SKUs fitted alone (bottom_up, reconciled)
    share: np.ndarray              # share of the family forecast per SKU (0 when inactive)
    fam_share: np.ndarray          # share of the total forecast per family (from_total)
    tasks: list[FitTask] = field(default_factory=list)
    # (series id, configuration) -> the earlier configuration fitted in its place (the same model here)
    same_as: dict[tuple[str, str], str] = field(default_factory=dict)

    def fitted_model(self, series_id: str, model: str) -> str:
        return self.same_as.get((series_id, model), model)

    @property
    def single_family(self) -> bool:
        return len(self.view.families) == 1


def _series_id(level: str, key: str) -> str:
    return f"{level}|{key}"


def _task_key(stage: str, series_id: str, model: str) -> str:
    return f"{stage}|{series_id}|{model}"


def _run_rate(units: np.ndarray, present: np.ndarray, months: int) -> np.ndarray:
    """Average units per month over the last `months` months while the series existed (>= 0)."""
    window = slice(-months, None)
    months_present = np.maximum(present[:, window].sum(axis=1), 1)
    return np.clip(units[:, window].sum(axis=1) / months_present, 0, None)


def _shares(rate: np.ndarray, active: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    share = np.zeros(len(rate))
    for g in range(n_groups):
        members = groups == g
        if rate[members].sum() > 0:
            share[members] = rate[members] / rate[members].sum()
        elif active[members].any():  # active but no positive units in the window: split evenly
            share[members] = active[members] / active[members].sum()
    return share


def _prepare(view: _View, settings: ForecastSettings, stage: str, n_future: int,
             configs_for: Callable[[str], list[ProphetConfig]], warm: dict[tuple[str, str], dict]) -> _Prep:
    units0 = np.nan_to_num(view.units, nan=0.0)
    present = ~np.isnan(view.units)
    fam_index = {f: i for i, f in enumerate(view.families)}
    fam_of = np.array([fam_index[f] for f in view.family], dtype=int)
    n_fam = len(view.families)
    fam_size = np.bincount(fam_of, minlength=n_fam)

    selling = units0 != 0
    active = selling[:, -settings.inactive_after_months:].any(axis=1)
    # A family's only SKU is the family's own series: fitting it again would repeat the family's fit.
    fitted = (active & (present.sum(axis=1) >= settings.min_history_months)
              & (selling.sum(axis=1) >= settings.min_nonzero_months) & (fam_size[fam_of] > 1))
    share = _shares(_run_rate(units0, present, settings.share_months) * active, active, fam_of, n_fam)

    fam_units = np.vstack([units0[fam_of == f].sum(axis=0) for f in range(n_fam)])
    fam_present = np.vstack([present[fam_of == f].any(axis=0) for f in range(n_fam)])
    fam_active = np.array([active[fam_of == f].any() for f in range(n_fam)])
    fam_share = _shares(_run_rate(fam_units, fam_present, settings.share_months) * fam_active,
                        fam_active, np.zeros(n_fam, dtype=int), 1)

    months = month_array(view.first_month, view.n_months)
    future = month_array(view.first_month + view.n_months, n_future)
    fam_start = [int(np.argmax(fam_present[f])) for f in range(n_fam)]
    prep = _Prep(view, stage, future, fam_of, fam_start, [fam_units[f, fam_start[f]:] for f in range(n_fam)],
                 units0.sum(axis=0), active, fitted, share, fam_share)

    def add(level: str, key: str, start: int, y: np.ndarray) -> None:
        series_id = _series_id(level, key)
        init = warm.get((series_id, stage))
        seen: dict[tuple, str] = {}
        for config in configs_for(series_id):
            n = len(y) - start
            same_model = (config.seasonality_mode, config.changepoint_prior_scale, config.growth,
                          config.yearly_order(n), config.month_effects(n))
            if same_model in seen:  # e.g. a month-effects model on a long history is an earlier one
                prep.same_as[(series_id, config.name)] = seen[same_model]
                continue
            seen[same_model] = config.name
            use = init if init is not None and init.get("model", config.name) == config.name else None
            prep.tasks.append(FitTask(key=_task_key(stage, series_id, config.name), series_id=series_id,
                                      stage=stage, months=months[start:], y=y[start:], future=future,
                                      init=use, config=config))

    if not prep.single_family:  # one family: the total is that family's series
        add(TOTAL, TOTAL, 0, prep.total_y)
    for f, name in enumerate(view.families):
        add("family", name, fam_start[f], fam_units[f])
    for i in np.flatnonzero(fitted):
        add("sku", view.sku[i], int(np.argmax(present[i])), units0[i])
    return prep


# ----------------------------------------------------------------------------------------------
# The approaches' numbers for one view

def _floored(result: FitResult) -> np.ndarray:
    return np.clip(np.nan_to_num(result.yhat, nan=0.0), 0, None)


@dataclass
class _Numbers:
    """One view's forecasts: per approach a SKU x month matrix; the fits behind them."""

    sku: dict[str, np.ndarray]        # approach -> (n_sku, n_future)
    fam_fit: list[FitResult]
    total_fit: FitResult
    sku_fit: dict[int, FitResult]
    reconciliation: str

    def family(self, approach: str, fam_of: np.ndarray, n_fam: int) -> np.ndarray:
        values = self.sku[approach]
        return np.vstack([values[fam_of == f].sum(axis=0) for f in range(n_fam)])


def _assemble(prep: _Prep, fits: dict[str, FitResult], model_of: Callable[[str], str]) -> _Numbers:
    def fit_of(level: str, key: str) -> FitResult:
        series_id = _series_id(level, key)
        return fits[_task_key(prep.stage, series_id, prep.fitted_model(series_id, model_of(series_id)))]

    view = prep.view
    n_fam = len(view.families)
    fam_fit = [fit_of("family", name) for name in view.families]
    total_fit = fam_fit[0] if prep.single_family else fit_of(TOTAL, TOTAL)
    fam_fc = np.vstack([_floored(r) for r in fam_fit])
    total_fc = _floored(total_fit)
    sku_fit = {int(i): fit_of("sku", view.sku[i]) for i in np.flatnonzero(prep.fitted)}

    # A family whose SKUs are all inactive has no share to give: its numbers are zero.
    top_down = prep.share[:, None] * fam_fc[prep.fam_of]
    bottom_up = top_down.copy()
    for i, result in sku_fit.items():
        bottom_up[i] = _floored(result)
    from_total = prep.share[:, None] * (prep.fam_share[:, None] * total_fc[None, :])[prep.fam_of]

    # Reconciled: every level's forecast, MinTrace-combined; the SKUs of a rest node share it.
    bottoms, members = [], []
    for f in range(n_fam):
        in_fam = np.flatnonzero(prep.fam_of == f)
        own = [i for i in in_fam if i in sku_fit]
        if not own:
            continue
        for i in own:
            bottoms.append((f, bottom_up[i]))
            members.append([i])
        rest = [i for i in in_fam if i not in sku_fit and prep.share[i] > 0]
        if rest:
            bottoms.append((f, prep.share[rest].sum() * fam_fc[f]))
            members.append(rest)
    alone = [not any(bf == f for bf, _ in bottoms) for f in range(n_fam)]
    coherent, method = reconcile(total_fc, list(fam_fc), bottoms, alone)
    coherent = np.clip(coherent, 0, None)
    reconciled = top_down.copy()
    alone_families = [f for f in range(n_fam) if alone[f]]
    for row, f in enumerate(alone_families):
        in_fam = prep.fam_of == f
        reconciled[in_fam] = prep.share[in_fam, None] * coherent[row][None, :]
    for row, rows in enumerate(members, start=len(alone_families)):
        share = prep.share[rows].sum()
        weights = prep.share[rows] / share if share > 0 else np.ones(len(rows)) / len(rows)
        reconciled[rows] = weights[:, None] * coherent[row][None, :]
    return _Numbers({"top_down": top_down, "bottom_up": bottom_up, "from_total": from_total,
                     "reconciled": reconciled}, fam_fit, total_fit, sku_fit, method)


# ----------------------------------------------------------------------------------------------
# Rolling-origin backtest

def backtest_cuts(n_months: int, settings: ForecastSettings) -> list[tuple[int, int]]:
    """(training months, months scored) per origin, oldest first; empty when the history is too short."""
    holdout = min(settings.backtest_months, n_months - MIN_TRAIN_MONTHS)
    if holdout < MIN_HOLDOUT_MONTHS:
        return []
    step, wanted = settings.backtest_step_months, settings.backtest_origins
    cuts = [n_months - holdout - j * step for j in range(wanted)]
    cuts = [c for c in cuts if c >= MIN_TRAIN_MONTHS]
    forward = n_months - holdout + step  # short histories: the other origins move forwards
    while len(cuts) < wanted and forward <= n_months - MIN_HOLDOUT_MONTHS:
        cuts.append(forward)
        forward += step
    return [(c, min(holdout, n_months - c)) for c in sorted(cuts)]


class _Pool:
    """Actuals and forecasts of one series pooled over the backtest's origins."""

    def __init__(self) -> None:
        self.actual: list[np.ndarray] = []
        self.forecast: list[np.ndarray] = []
        self.horizon: list[np.ndarray] = []
        self.train: np.ndarray | None = None

    def add(self, actual, forecast, train) -> None:
        self.actual.append(np.asarray(actual, float))
        self.forecast.append(np.asarray(forecast, float))
        self.horizon.append(np.arange(1, len(actual) + 1))
        self.train = np.asarray(train, float)  # the latest origin's training history (MASE scale)

    @property
    def a(self) -> np.ndarray:
        return np.concatenate(self.actual)

    @property
    def f(self) -> np.ndarray:
        return np.concatenate(self.forecast)

    def wape(self) -> float | None:
        return metrics.wape(self.a, self.f) if self.actual else None

    def rmse_and_mid(self) -> tuple[float, float]:
        return float(np.sqrt(np.mean((self.f - self.a) ** 2))), float(np.concatenate(self.horizon).mean())


def _score(level, key, family, method, pool: _Pool, model) -> dict:
    actual, forecast = pool.a, pool.f
    return {
        "level": level, "series_key": key, "family": family, "method": method,
        "wape": metrics.wape(actual, forecast), "mape": metrics.mape(actual, forecast),
        "bias": metrics.bias(actual, forecast), "mase": metrics.mase(actual, forecast, pool.train),
        "n_points": len(actual), "sum_abs_error": float(np.abs(forecast - actual).sum()),
        "sum_actual": float(actual.sum()), "model": model,
    }


def _lowest(scores: dict[str, float | None], order: list[str]) -> str:
    """The key with the lowest score; the first in `order` on ties or where nothing is scored."""
    best = order[0]
    for key in order:
        value = scores.get(key)
        if value is not None and np.isfinite(value) and (scores.get(best) is None or value < scores[best] - 1e-12):
            best = key
    return best


@dataclass
class _Backtest:
    model: dict[str, str]                 # series id -> chosen configuration
    choice: dict[str, str]                # family -> approach
    rows: list[dict]
    band: dict[str, tuple[float, float]]  # series id -> (RMSE, mean horizon) of its chosen model
    reconciliation: str


def _actuals(full: _View, prep: _Prep, scored: int):
    n_train = prep.view.n_months
    actual = np.nan_to_num(full.units[:, n_train:n_train + scored], nan=0.0)
    row_in_full = {s: i for i, s in enumerate(full.sku)}
    sku_actual = actual[[row_in_full[s] for s in prep.view.sku]]
    fam_actual = {name: actual[full.family == name].sum(axis=0) for name in prep.view.families}
    return actual.sum(axis=0), fam_actual, sku_actual


def _choose_models(full: _View, preps: list[tuple[_Prep, int]], fits: dict[str, FitResult],
                   configs: list[ProphetConfig], incumbent: dict[str, str]) -> dict[str, str]:
    """Per series, the configuration with the lowest WAPE pooled over the origins; last cycle's
    (`incumbent`) stays unless another is better by more than MODEL_SWITCH_MARGIN, so the published
    forecast does not change model from one month to the next on noise."""
    names = [c.name for c in configs]
    pools: dict[str, dict[str, _Pool]] = defaultdict(lambda: defaultdict(_Pool))
    for prep, scored in preps:
        total_actual, fam_actual, sku_actual = _actuals(full, prep, scored)
        actual_of = {_series_id(TOTAL, TOTAL): (total_actual, prep.total_y)}
        actual_of |= {_series_id("family", n): (fam_actual[n], prep.fam_y[f]) for f, n in enumerate(prep.view.families)}
        actual_of |= {_series_id("sku", prep.view.sku[i]): (sku_actual[i], prep.view.units[i])
                      for i in np.flatnonzero(prep.fitted)}
        aliases = defaultdict(list)
        for (series_id, name), fitted_as in prep.same_as.items():
            aliases[(series_id, fitted_as)].append(name)
        for task in prep.tasks:
            actual, train = actual_of[task.series_id]
            forecast = _floored(fits[task.key])[:scored]
            for name in [task.config.name, *aliases[(task.series_id, task.config.name)]]:
                pools[task.series_id][name].add(actual, forecast, train)
    return {sid: choose_model({m: pool.wape() for m, pool in by_model.items()}, names, incumbent.get(sid))
            for sid, by_model in pools.items()}


def choose_model(scores: dict[str, float | None], names: list[str], incumbent: str | None) -> str:
    """The configuration with the lowest backtest WAPE (the first of `names` on ties), unless last
    cycle's is within MODEL_SWITCH_MARGIN of it."""
    best = _lowest(scores, names)
    if (incumbent is not None and scores.get(incumbent) is not None and scores.get(best) is not None
            and scores[incumbent] <= scores[best] * (1 + MODEL_SWITCH_MARGIN)):
        return incumbent
    return best


def _backtest(full: _View, preps: list[tuple[_Prep, int]], fits: dict[str, FitResult],
              configs: list[ProphetConfig], approach: str, incumbent: dict[str, str]) -> _Backtest:
    chosen_model = _choose_models(full, preps, fits, configs, incumbent)
    default = configs[0].name

    def model_of(series_id: str) -> str:
        return chosen_model.get(series_id, default)

    fam_pools: dict[str, dict[str, _Pool]] = defaultdict(lambda: defaultdict(_Pool))
    total_pools: dict[str, _Pool] = defaultdict(_Pool)
    sku_pools: dict[str, dict[str, _Pool]] = defaultdict(lambda: defaultdict(_Pool))
    own: dict[str, _Pool] = defaultdict(_Pool)  # each series' own chosen fit: the band's error
    family_of_sku: dict[str, str] = {}
    per_origin = []
    methods = []
    for prep, scored in preps:
        nums = _assemble(prep, fits, model_of)
        methods.append(nums.reconciliation)
        total_actual, fam_actual, sku_actual = _actuals(full, prep, scored)
        view, n_fam = prep.view, len(prep.view.families)
        fam_numbers = {a: nums.family(a, prep.fam_of, n_fam)[:, :scored] for a in APPROACHES}
        for f, name in enumerate(view.families):
            train = prep.fam_y[f]
            for a in APPROACHES:
                fam_pools[name][a].add(fam_actual[name], fam_numbers[a][f], train)
            fam_pools[name]["seasonal_naive"].add(fam_actual[name], metrics.seasonal_naive(train, scored), train)
            own[_series_id("family", name)].add(fam_actual[name], _floored(nums.fam_fit[f])[:scored], train)
        own[_series_id(TOTAL, TOTAL)].add(total_actual, _floored(nums.total_fit)[:scored], prep.total_y)
        for i, result in nums.sku_fit.items():
            sku, train = view.sku[i], view.units[i][~np.isnan(view.units[i])]
            family_of_sku[sku] = view.family[i]
            for a in APPROACHES:
                sku_pools[sku][a].add(sku_actual[i], nums.sku[a][i, :scored], train)
            sku_pools[sku]["seasonal_naive"].add(sku_actual[i], metrics.seasonal_naive(train, scored), train)
            own[_series_id("sku", sku)].add(sku_actual[i], _floored(result)[:scored], train)
        per_origin.append((prep, scored, nums, fam_numbers, total_actual))

    families = sorted(fam_pools)
    choice = {name: (_lowest({a: fam_pools[name][a].wape() for a in APPROACHES}, list(APPROACHES))
                     if approach == "best" else approach) for name in families}
    rows = []
    for name in families:
        model = model_of(_series_id("family", name))
        for method, pool in fam_pools[name].items():
            rows.append(_score("family", name, name, method, pool, None if method == "seasonal_naive" else model))
        rows.append({**_score("family", name, name, choice[name], fam_pools[name][choice[name]], model), "method": "chosen"})
    for prep, _scored, _nums, fam_numbers, total_actual in per_origin:
        for a in APPROACHES:
            total_pools[a].add(total_actual, fam_numbers[a].sum(axis=0), prep.total_y)
        chosen = np.sum([fam_numbers[choice[n]][f] for f, n in enumerate(prep.view.families)], axis=0)
        total_pools["chosen"].add(total_actual, chosen, prep.total_y)
        total_pools["seasonal_naive"].add(total_actual, metrics.seasonal_naive(prep.total_y, len(total_actual)), prep.total_y)
    total_model = model_of(_series_id(TOTAL, TOTAL))
    rows += [_score(TOTAL, TOTAL, None, m, pool, None if m == "seasonal_naive" else total_model)
             for m, pool in total_pools.items()]
    for sku in sorted(sku_pools):
        family, model = family_of_sku[sku], model_of(_series_id("sku", sku))
        for method, pool in sku_pools[sku].items():
            rows.append(_score("sku", sku, family, method, pool, None if method == "seasonal_naive" else model))
        if choice.get(family) in sku_pools[sku]:
            rows.append({**_score("sku", sku, family, choice[family], sku_pools[sku][choice[family]], model),
                         "method": "chosen"})
    band = {sid: pool.rmse_and_mid() for sid, pool in own.items()}
    return _Backtest(chosen_model, choice, rows, band, ", ".join(sorted(set(methods))))


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
            said.append(f"{months} month(s) of history: not backtested (the backtest keeps at least "
                        f"{MIN_TRAIN_MONTHS} months for training and holds out at least {MIN_HOLDOUT_MONTHS})")
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

def _half_width(result: FitResult, band: tuple[float, float] | None, steps: int, z: float) -> np.ndarray:
    h = np.arange(1, steps + 1)
    if band is None:
        return z * np.full(steps, result.sigma)
    rmse, h_mid = band
    return z * np.maximum(result.sigma, rmse * np.sqrt(h / max(h_mid, 1.0)))


def _publish(prep: _Prep, nums: _Numbers, choice: dict[str, str], model_of: Callable[[str], str],
             band: dict[str, tuple[float, float]], settings: ForecastSettings, horizon: slice) -> pl.DataFrame:
    view = prep.view
    steps = len(prep.future)
    z = NormalDist().inv_cdf((1 + settings.interval_width) / 2)

    def half(level: str, key: str, result: FitResult) -> np.ndarray:
        return _half_width(result, band.get(_series_id(level, key)), steps, z)

    fam_half = np.vstack([half("family", name, r) for name, r in zip(view.families, nums.fam_fit)])
    fam_model = [model_of(_series_id("family", name)) for name in view.families]
    total_model = fam_model[0] if prep.single_family else model_of(_series_id(TOTAL, TOTAL))
    sku_yhat = np.zeros((len(view.sku), steps))
    sku_half = prep.share[:, None] * fam_half[prep.fam_of]
    sku_method = np.empty(len(view.sku), dtype=object)
    sku_model = np.empty(len(view.sku), dtype=object)
    fam_label = [r.method for r in nums.fam_fit]  # "prophet" or its fallback
    for i, family in enumerate(view.family):
        f = prep.fam_of[i]
        approach = choice[family]
        sku_yhat[i] = nums.sku[approach][i]
        sku_model[i] = total_model if approach == "from_total" else fam_model[f]
        if not prep.active[i]:
            sku_method[i], sku_half[i], sku_model[i] = "inactive", 0.0, None
        elif approach in ("bottom_up", "reconciled") and i in nums.sku_fit:
            result = nums.sku_fit[i]
            sku_method[i] = f"prophet_{approach}" if result.method == "prophet" else result.method
            sku_model[i] = model_of(_series_id("sku", view.sku[i]))
            sku_half[i] = half("sku", view.sku[i], result)
        elif approach == "top_down" and fam_label[f] == "prophet":
            sku_method[i] = "prophet_top_down"
        else:  # a share of the family's number, however the family's number was made
            sku_method[i] = "family_share"

    months = prep.future[horizon]
    frames = []

    def add(level, keys, families, skus, methods, models, yhat, half_width):
        yhat = yhat[:, horizon]
        lower = np.clip(yhat - half_width[:, horizon], 0, None)
        upper = yhat + half_width[:, horizon]
        n_rows, n_months = yhat.shape

        def each(values):
            return np.repeat(np.asarray(values, dtype=object), n_months).tolist()

        frames.append(pl.DataFrame({
            "level": [level] * (n_rows * n_months), "series_key": each(keys), "family": each(families),
            "sku": each(skus), "month": np.tile(months, n_rows), "method": each(methods),
            "yhat": yhat.reshape(-1), "yhat_lower": lower.reshape(-1), "yhat_upper": upper.reshape(-1),
            "model": each(models),
        }, schema=FORECAST_SCHEMA))

    n_fam = len(view.families)
    # Coherent by construction: a family is the sum of its SKUs, the total the sum of families.
    fam_yhat = np.vstack([sku_yhat[prep.fam_of == f].sum(axis=0) for f in range(n_fam)])
    fam_method, fam_models = [], []
    for f, name in enumerate(view.families):
        approach = choice[name]
        if not prep.active[prep.fam_of == f].any():
            fam_method.append("inactive")
            fam_models.append(None)
            continue
        fam_method.append(fam_label[f] if fam_label[f] != "prophet" else f"prophet_{approach}")
        has_own_skus = any(i in nums.sku_fit for i in np.flatnonzero(prep.fam_of == f))
        fam_models.append(total_model if approach == "from_total" else
                          "sku_models" if approach == "bottom_up" and has_own_skus else fam_model[f])
    total_half = half(TOTAL, TOTAL, nums.total_fit)[None, :]
    add(TOTAL, [TOTAL], [None], [None], ["sum_of_families"], [total_model], fam_yhat.sum(axis=0)[None, :], total_half)
    add("family", view.families, view.families, [None] * n_fam, fam_method, fam_models, fam_yhat, fam_half)
    add("sku", view.sku, view.family, view.sku, sku_method, sku_model, sku_yhat, sku_half)
    return pl.concat(frames)


def _warm_lookup(params: pl.DataFrame | None) -> dict[tuple[str, str], dict]:
    if params is None or params.height == 0:
        return {}
    stage = params["stage"] if "stage" in params.columns else pl.Series(["final"] * params.height)
    model = params["model"] if "model" in params.columns else pl.Series([None] * params.height)
    out = {}
    for sid, st, text, name in zip(params["series_id"], stage, params["params_json"], model):
        if text:
            out[(sid, st)] = {**json.loads(text), **({"model": name} if name else {})}
    return out


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
    warm_start_params: a previous result's `params` frame (series_id, stage, params_json, model, ...).
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
    configs = model_configs(settings)
    workers = settings.resolved_workers()
    run = {"workers": workers, "executor": settings.executor, "dask_address": settings.dask_address}

    cuts = backtest_cuts(full.n_months, settings)
    preps = [(_prepare(full.truncated(n_train), settings, f"origin{j + 1}", scored, lambda _sid: configs, {}), scored)
             for j, (n_train, scored) in enumerate(cuts)]
    backtest_tasks = [task for prep, _ in preps for task in prep.tasks]
    fit_started = time.perf_counter()
    # One published fit per series (the same series whatever configuration the backtest picks).
    total_tasks = len(backtest_tasks) + len(_prepare(full, settings, "final", n_future, lambda _sid: configs[:1], {}).tasks)

    def progress_of(offset: int):
        if progress is None:
            return None
        return lambda done, _total, key: progress(offset + done, total_tasks, key)

    if settings.executor == "local" and workers > 1 and len(backtest_tasks) > 0:
        prewarm(workers)  # one pool for both rounds (a no-op when the CLI started it already)
    try:
        fits = run_fits(backtest_tasks, progress=progress_of(0), release=False, **run)
        default = configs[0].name
        # Last cycle's configuration per series (from its published fits), where it is still a candidate.
        incumbent = {sid: init["model"] for (sid, stage), init in warm.items()
                     if stage == "final" and init.get("model") in {c.name for c in configs}}
        outcome = _backtest(full, preps, fits, configs, settings.approach, incumbent) if preps else None
        chosen_model = outcome.model if outcome else {}
        by_name = {c.name: c for c in configs}

        def final_configs(series_id: str) -> list[ProphetConfig]:
            return [by_name[chosen_model.get(series_id, default)]]

        final = _prepare(full, settings, "final", n_future, final_configs, warm)
        final_fits = run_fits(final.tasks, progress=progress_of(len(backtest_tasks)), **run)
    finally:
        release_pool()
    fit_seconds = time.perf_counter() - fit_started

    default_choice = "top_down" if settings.approach == "best" else settings.approach
    choice = {name: (outcome.choice.get(name, default_choice) if outcome else default_choice) for name in full.families}

    def model_of(series_id: str) -> str:
        return chosen_model.get(series_id, default)

    final_numbers = _assemble(final, final_fits, model_of)
    forecast = _publish(final, final_numbers, choice, model_of, outcome.band if outcome else {}, settings, horizon)
    rows = _with_history_notes(outcome.rows if outcome else [], final, settings, outcome is not None)

    all_fits = list(fits.values()) + list(final_fits.values())
    prophet_fits = [r for r in final_fits.values() if r.method == "prophet"]
    params = pl.DataFrame(
        [{"series_id": r.series_id, "stage": r.stage, "n_changepoints": r.n_changepoints,
          "n_points": r.n_points, "params_json": r.params_json, "model": r.model} for r in prophet_fits],
        schema=PARAMS_SCHEMA,
    )
    models_chosen = defaultdict(int)
    for name in chosen_model.values():
        models_chosen[name] += 1
    stats = {
        "series_fitted": sum(r.method == "prophet" for r in all_fits),
        "fallback_fits": sum(r.method != "prophet" for r in all_fits),
        "cmdstan_fits": sum(r.engine.startswith("cmdstan") for r in all_fits),
        "warm_started": sum(r.warm_started for r in prophet_fits),
        "engine": settings.engine,
        "models": [c.name for c in configs],
        "models_chosen": dict(sorted(models_chosen.items())),
        "approaches_chosen": {a: sum(v == a for v in choice.values()) for a in APPROACHES if a in choice.values()},
        "backtest_origins": [f"{n_train} months, {scored} scored" for n_train, scored in cuts],
        "reconciliation": final_numbers.reconciliation,
        "skus": len(full.sku),
        "skus_fitted": int(final.fitted.sum()),
        "skus_inactive": int((~final.active).sum()),
        "skus_family_share": int((final.active & ~final.fitted).sum()),
        "backtest": outcome is not None,
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
