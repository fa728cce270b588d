"""Rolling-origin backtest, the choice of configuration per series and of approach per family.

Up to `backtest_origins` forecast origins `backtest_step_months` apart, the latest holding out the
last `backtest_months` months. Everything (classification, shares, every configuration's fit) is
redone on the months before each origin and scored against the actuals after it, next to a
seasonal-naive baseline (same month last year). A history too short for that holds out fewer months
(at least 12 months stay for training and 3 are held out), and where origins do not fit backwards
the others move forwards, scored on the months left; shorter histories are not backtested.

- Models: each series keeps the configuration with the lowest pooled WAPE over the origins.
- approach `best`: per family, the approach with the lowest family-level WAPE pooled over the
  origins (top_down on ties or where none can be scored).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import metrics
from sop_pipeline.forecasting.approaches import APPROACHES, assemble, floored
from sop_pipeline.forecasting.classification import TOTAL, HistoryView, PreparedView, series_id_of, task_key
from sop_pipeline.forecasting.fitting import YEARLY_MIN_MONTHS, FitResult, ProphetConfig

MIN_TRAIN_MONTHS = 12      # the shortest training window of a backtest origin
MIN_HOLDOUT_MONTHS = 3     # and the fewest months it holds out
MODEL_SWITCH_MARGIN = 0.05  # a series changes configuration when another's backtest WAPE is 5% lower


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
class BacktestOutcome:
    model: dict[str, str]                 # series id -> chosen configuration
    choice: dict[str, str]                # family -> approach
    rows: list[dict]
    band: dict[str, tuple[float, float]]  # series id -> (RMSE, mean horizon) of its chosen model
    reconciliation: str


def _actuals(full: HistoryView, prep: PreparedView, scored: int):
    n_train = prep.view.n_months
    actual = np.nan_to_num(full.units[:, n_train:n_train + scored], nan=0.0)
    row_in_full = {s: i for i, s in enumerate(full.sku)}
    sku_actual = actual[[row_in_full[s] for s in prep.view.sku]]
    fam_actual = {name: actual[full.family == name].sum(axis=0) for name in prep.view.families}
    return actual.sum(axis=0), fam_actual, sku_actual


@dataclass(frozen=True)
class ModelChoice:
    """What a series publishes: one configuration, or the combination (mean) of a few."""

    members: tuple[str, ...]

    @property
    def name(self) -> str:
        """The name in sop.forecast.model: the configuration's, or `mean(a, b, c)`."""
        return self.members[0] if len(self.members) == 1 else f"mean({', '.join(self.members)})"


def choose_models(full: HistoryView, preps: list[tuple[PreparedView, int]], fits: dict[str, FitResult],
                  configs: list[ProphetConfig], incumbent: dict[str, str], combine: int) -> dict[str, ModelChoice]:
    """Per series: the configuration with the lowest WAPE pooled over the origins, or the mean of its
    best 2, 3, ... `combine` distinct ones, whichever of these scores lowest over the same origins
    (forecast combination; `combine` < 2: never). Last cycle's configuration (`incumbent`) stays unless the choice is better by
    more than MODEL_SWITCH_MARGIN, so the published forecast does not change model on noise."""
    names = [c.name for c in configs]
    pools: dict[str, dict[str, _Pool]] = defaultdict(lambda: defaultdict(_Pool))
    for prep, scored in preps:
        total_actual, fam_actual, sku_actual = _actuals(full, prep, scored)
        actual_of = {series_id_of(TOTAL, TOTAL): (total_actual, prep.total_y)}
        actual_of |= {series_id_of("family", n): (fam_actual[n], prep.fam_y[f]) for f, n in enumerate(prep.view.families)}
        actual_of |= {series_id_of("sku", prep.view.sku[i]): (sku_actual[i], prep.view.units[i])
                      for i in np.flatnonzero(prep.fitted)}
        aliases = defaultdict(list)
        for (series_id, name), fitted_as in prep.same_as.items():
            aliases[(series_id, fitted_as)].append(name)
        for task in prep.tasks:
            actual, train = actual_of[task.series_id]
            forecast = floored(fits[task.key])[:scored]
            for name in [task.config.name, *aliases[(task.series_id, task.config.name)]]:
                pools[task.series_id][name].add(actual, forecast, train)
    chosen = {}
    for sid, by_model in pools.items():
        # Only configurations scored at every origin of the series compete (a training window is no
        # candidate at the origins where the history is not longer than it): the same months pooled.
        n_origins = max(len(pool.actual) for pool in by_model.values())
        by_model = {m: pool for m, pool in by_model.items() if len(pool.actual) == n_origins}
        scores = {m: pool.wape() for m, pool in by_model.items()}
        single = choose_model(scores, names, incumbent.get(sid))
        chosen[sid] = ModelChoice((single,))
        if combine < 2 or single == incumbent.get(sid) and single != _lowest(scores, names):
            continue
        ranked = sorted((m for m in names if scores.get(m) is not None and np.isfinite(scores[m])),
                        key=lambda m: (scores[m], names.index(m)))
        distinct: list[str] = []  # an alias (the same model fitted once) counts once
        for m in ranked:
            if not any(np.array_equal(by_model[m].f, by_model[d].f) for d in distinct):
                distinct.append(m)
        best = scores.get(single)
        for k in range(2, min(combine, len(distinct)) + 1):  # the mean of the best 2, 3, ...: the lowest
            top = tuple(distinct[:k])
            mean = _Pool()
            for j, actual in enumerate(by_model[top[0]].actual):
                mean.add(actual, np.mean([by_model[m].forecast[j] for m in top], axis=0), by_model[top[0]].train)
            if best is not None and mean.wape() is not None and mean.wape() <= best:
                chosen[sid], best = ModelChoice(top), mean.wape()
    return chosen


def combined_fits(prep: PreparedView, fits: dict[str, FitResult], chosen: dict[str, ModelChoice]) -> dict[str, FitResult]:
    """The combinations' fits of one view, keyed as a fit of their own: yhat the mean of the members'
    forecasts, sigma the mean of their in-sample residual deviations (a combination is no Prophet fit
    of its own: no parameters, no warm start)."""
    out = {}
    fitted_ids = {task.series_id for task in prep.tasks}
    for sid, choice in chosen.items():
        if len(choice.members) < 2 or sid not in fitted_ids:
            continue
        members = [fits.get(task_key(prep.stage, sid, prep.fitted_model(sid, m))) for m in choice.members]
        if any(r is None for r in members):
            continue
        first = members[0]
        prophet = all(r.method == "prophet" for r in members)
        out[task_key(prep.stage, sid, choice.name)] = FitResult(
            key=task_key(prep.stage, sid, choice.name), series_id=sid, stage=prep.stage,
            method="prophet" if prophet else first.method,
            yhat=np.mean([r.yhat for r in members], axis=0), sigma=float(np.mean([r.sigma for r in members])),
            n_points=first.n_points, model=choice.name, engine="combination")
    return out


def choose_model(scores: dict[str, float | None], names: list[str], incumbent: str | None) -> str:
    """The configuration with the lowest backtest WAPE (the first of `names` on ties), unless last
    cycle's is within MODEL_SWITCH_MARGIN of it."""
    best = _lowest(scores, names)
    if (incumbent is not None and scores.get(incumbent) is not None and scores.get(best) is not None
            and scores[incumbent] <= scores[best] * (1 + MODEL_SWITCH_MARGIN)):
        return incumbent
    return best


def run_backtest(full: HistoryView, preps: list[tuple[PreparedView, int]], fits: dict[str, FitResult],
                 chosen_model: dict[str, str], default: str, approach: str) -> BacktestOutcome:
    """Scores of every approach on the origins with each series' chosen model (`chosen_model`, its
    combinations' fits in `fits`), the approach per family and the band's errors."""

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
        nums = assemble(prep, fits, model_of)
        methods.append(nums.reconciliation)
        total_actual, fam_actual, sku_actual = _actuals(full, prep, scored)
        view, n_fam = prep.view, len(prep.view.families)
        fam_numbers = {a: nums.family(a, prep.fam_of, n_fam)[:, :scored] for a in APPROACHES}
        for f, name in enumerate(view.families):
            train = prep.fam_y[f]
            for a in APPROACHES:
                fam_pools[name][a].add(fam_actual[name], fam_numbers[a][f], train)
            fam_pools[name]["seasonal_naive"].add(fam_actual[name], metrics.seasonal_naive(train, scored), train)
            own[series_id_of("family", name)].add(fam_actual[name], floored(nums.fam_fit[f])[:scored], train)
        own[series_id_of(TOTAL, TOTAL)].add(total_actual, floored(nums.total_fit)[:scored], prep.total_y)
        for i, result in nums.sku_fit.items():
            sku, train = view.sku[i], view.units[i][~np.isnan(view.units[i])]
            family_of_sku[sku] = view.family[i]
            for a in APPROACHES:
                sku_pools[sku][a].add(sku_actual[i], nums.sku[a][i, :scored], train)
            sku_pools[sku]["seasonal_naive"].add(sku_actual[i], metrics.seasonal_naive(train, scored), train)
            own[series_id_of("sku", sku)].add(sku_actual[i], floored(result)[:scored], train)
        per_origin.append((prep, scored, nums, fam_numbers, total_actual))

    families = sorted(fam_pools)
    choice = {name: (_lowest({a: fam_pools[name][a].wape() for a in APPROACHES}, list(APPROACHES))
                     if approach == "best" else approach) for name in families}
    rows = []
    for name in families:
        model = model_of(series_id_of("family", name))
        for method, pool in fam_pools[name].items():
            rows.append(_score("family", name, name, method, pool, None if method == "seasonal_naive" else model))
        rows.append({**_score("family", name, name, choice[name], fam_pools[name][choice[name]], model), "method": "chosen"})
    for prep, _scored, _nums, fam_numbers, total_actual in per_origin:
        for a in APPROACHES:
            total_pools[a].add(total_actual, fam_numbers[a].sum(axis=0), prep.total_y)
        chosen = np.sum([fam_numbers[choice[n]][f] for f, n in enumerate(prep.view.families)], axis=0)
        total_pools["chosen"].add(total_actual, chosen, prep.total_y)
        total_pools["seasonal_naive"].add(total_actual, metrics.seasonal_naive(prep.total_y, len(total_actual)), prep.total_y)
    total_model = model_of(series_id_of(TOTAL, TOTAL))
    rows += [_score(TOTAL, TOTAL, None, m, pool, None if m == "seasonal_naive" else total_model)
             for m, pool in total_pools.items()]
    for sku in sorted(sku_pools):
        family, model = family_of_sku[sku], model_of(series_id_of("sku", sku))
        for method, pool in sku_pools[sku].items():
            rows.append(_score("sku", sku, family, method, pool, None if method == "seasonal_naive" else model))
        if choice.get(family) in sku_pools[sku]:
            rows.append({**_score("sku", sku, family, choice[family], sku_pools[sku][choice[family]], model),
                         "method": "chosen"})
    band = {sid: pool.rmse_and_mid() for sid, pool in own.items()}
    return BacktestOutcome(chosen_model, choice, rows, band, ", ".join(sorted(set(methods))))


def with_history_notes(rows: list[dict], final: PreparedView, settings: ForecastSettings, backtested: bool) -> list[dict]:
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
