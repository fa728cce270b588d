"""Rolling-origin backtest, the choice of configuration per series and of approach per family.

Up to `backtest_origins` forecast origins `backtest_step_months` apart, the latest holding out the
last `backtest_months` months. Everything (classification, shares, every configuration's fit) is
redone on the months before each origin and scored against the actuals after it, next to a
seasonal-naive baseline (same month last year). A history too short for that holds out fewer months
(at least 12 months stay for training and 3 are held out), and where origins do not fit backwards
the others move forwards, scored on the months left; shorter histories are not backtested.

- Models, raced in two rounds (`race_finalists`): every configuration is fitted at the
  `backtest_first_round` origins (the oldest and the latest), only each series' `backtest_finalists`
  best there at the others. Each series then keeps the configuration with the lowest WAPE pooled over
  every origin (origin j, oldest 1, weighing j: `_Pool.recent_wape`), or the simplest one within
  noise of it (`choose_models`), or a combination: its own best few and the run's best
  (`run_ranking`, the configurations with the lowest backtest WAPE over all the run's series of a level).
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
# The simplest configuration within one standard error of the best is kept only where every origin
# trained on at least two years (a yearly shape each time) and there are enough origins for a spread.
SIMPLEST_MIN_TRAIN_MONTHS = 24
SIMPLEST_MIN_ORIGINS = 3
# A series' combination takes in the run's RUN_BEST best configurations beside its own best
# (`run_ranking`, `choose_models`): ranked over hundreds of series the backtest is no longer noise.
RUN_BEST = 2


def first_round_origins(n_origins: int, first_round: int) -> list[int]:
    """The origins (indices, oldest first) where every configuration is fitted: the oldest and the
    latest, then evenly between them; all of them when `first_round` covers them."""
    if first_round >= n_origins:
        return list(range(n_origins))
    if first_round == 1:
        return [n_origins - 1]
    return sorted({round(i * (n_origins - 1) / (first_round - 1)) for i in range(first_round)})


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

    # One a series, configuration (or approach) and run: 1.2 million at 50,000 SKUs, so no __dict__ each.
    __slots__ = ("actual", "forecast", "train", "train_months", "_joined", "_signature")

    def __init__(self) -> None:
        self.actual: list[np.ndarray] = []
        self.forecast: list[np.ndarray] = []
        self.train: np.ndarray | None = None
        self.train_months: list[int] = []
        self._joined: tuple[np.ndarray, np.ndarray] | None = None  # (a, f), joined once after the last add
        self._signature: bytes | None = None

    def add(self, actual, forecast, train) -> None:
        self.actual.append(np.asarray(actual, float))
        self.forecast.append(np.asarray(forecast, float))
        self.train = np.asarray(train, float)  # the latest origin's training history (MASE scale)
        self.train_months.append(len(self.train))
        self._joined, self._signature = None, None

    def per_origin(self) -> np.ndarray | None:
        """Each origin's absolute error over the mean actual per origin: scale-free, paired between
        configurations by origin, and their mean is the pooled WAPE (None: nothing sold)."""
        scale = float(np.sum([a.sum() for a in self.actual])) / len(self.actual) if self.actual else 0.0
        if scale <= 0:
            return None
        return np.array([np.abs(f - a).sum() for a, f in zip(self.actual, self.forecast)]) / scale

    @property
    def a(self) -> np.ndarray:
        return self._joined_origins()[0]

    @property
    def f(self) -> np.ndarray:
        return self._joined_origins()[1]

    def _joined_origins(self) -> tuple[np.ndarray, np.ndarray]:
        # Joined once: choosing among 24 configurations compares every pair's forecasts (`_ranked_distinct`),
        # 58,000 joins a demo forecast when joined on every read.
        if self._joined is None:
            self._joined = (np.concatenate(self.actual), np.concatenate(self.forecast))
        return self._joined

    def signature(self) -> bytes | None:
        """The joined forecasts as bytes: two pools' are equal exactly where `np.array_equal` holds
        for their forecasts (0.0 and -0.0 alike); None where a NaN makes them equal to none. Telling
        aliases apart by it is one dictionary lookup where comparing every pair's forecasts was 39%
        of choosing (392,000 array comparisons at 1,000 SKUs)."""
        if self._signature is None:
            f = self.f
            self._signature = b"" if np.isnan(f).any() else (f + 0.0).tobytes()
        return self._signature or None

    def wape(self) -> float | None:
        return metrics.wape(self.a, self.f) if self.actual else None

    def recent_wape(self) -> float | None:
        """The WAPE pooled over the origins with origin j (oldest 1) weighing j: the configuration is
        chosen for the months after the latest origin, and a series' recent behaviour tells more
        about those than its behaviour two years before (measured, equal weights against these, race
        and six origins alike: M1 sample of 49 0.1647 -> 0.1643, tourism sample of 46 0.1805 -> 0.1772,
        the three single series 0.0452 -> 0.0431)."""
        if not self.actual:
            return None
        weight = np.arange(1, len(self.actual) + 1, dtype=float)
        sold = float(sum(w * a.sum() for w, a in zip(weight, self.actual)))
        if sold <= 0:
            return self.wape()
        return float(sum(w * np.abs(f - a).sum() for w, a, f in zip(weight, self.actual, self.forecast)) / sold)

    def rmse_and_mid(self) -> tuple[float, float]:
        """The RMSE over every origin's months, and their mean horizon (months ahead, 1 the first)."""
        months = np.array([len(a) for a in self.actual], float)
        return float(np.sqrt(np.mean((self.f - self.a) ** 2))), float((months * (months + 1) / 2).sum() / months.sum())


def _score(level, key, family, method, pool: _Pool, model) -> dict:
    actual, forecast = pool.a, pool.f
    return {
        "level": level, "series_key": key, "family": family, "method": method,
        "wape": metrics.wape(actual, forecast), "mape": metrics.mape(actual, forecast),
        "bias": metrics.bias(actual, forecast), "mase": metrics.mase(actual, forecast, pool.train),
        "n_points": len(actual), "sum_abs_error": float(np.abs(forecast - actual).sum()),
        "sum_actual": float(actual.sum()), "model": model,
    }


def lowest(scores: dict[str, float | None], order: list[str]) -> str:
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
    """What a series publishes: one configuration, or the combination (mean or median) of a few."""

    members: tuple[str, ...]
    how: str = "mean"   # a combination's: "mean" or "median" of the members' forecasts

    @property
    def name(self) -> str:
        """The name in sop.forecast.model: the configuration's, or `mean(a, b)` / `median(a, b, c)`."""
        return self.members[0] if len(self.members) == 1 else f"{self.how}({', '.join(self.members)})"

    def combine(self, forecasts: list[np.ndarray]) -> np.ndarray:
        return (np.median if self.how == "median" else np.mean)(forecasts, axis=0)


def _model_pools(full: HistoryView, preps: list[tuple[PreparedView, int]],
                 fits: dict[str, FitResult]) -> dict[str, dict[str, _Pool]]:
    """Per series and configuration, its forecasts and the actuals at the origins it was fitted at
    (oldest first; an alias, the same model fitted once, shares its fit)."""
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
    return pools


def _complete(by_model: dict[str, _Pool]) -> dict[str, _Pool]:
    """The configurations scored at every origin of the series (the race's finalists; a training
    window is no candidate where the history is not longer than it): the same months pooled."""
    n_origins = max(len(pool.actual) for pool in by_model.values())
    return {m: pool for m, pool in by_model.items() if len(pool.actual) == n_origins}


def _ranked_distinct(by_model: dict[str, _Pool], scores: dict[str, float | None], names: list[str]) -> list[str]:
    """The scored configurations from the lowest WAPE up, an alias (the same forecasts) once."""
    ranked = sorted((m for m in names if scores.get(m) is not None and np.isfinite(scores[m])),
                    key=lambda m: (scores[m], names.index(m)))
    distinct: list[str] = []
    seen: set[bytes] = set()
    for m in ranked:
        signature = by_model[m].signature()
        if signature is None or signature not in seen:
            distinct.append(m)
            seen.add(signature)
    return distinct


def race_finalists(full: HistoryView, first_round: list[tuple[PreparedView, int]], fits: dict[str, FitResult],
                   configs: list[ProphetConfig], finalists: int,
                   incumbent: dict[str, tuple[str, ...]]) -> dict[str, list[ProphetConfig]]:
    """Per series fitted in the first round: its `finalists` configurations with the lowest WAPE
    pooled over the first round's origins (distinct forecasts), and last cycle's (`incumbent`, so it
    can stay), in the order of `configs`. The other origins fit these only: a configuration far
    behind at both the oldest and the latest origin is not going to be chosen."""
    names = [c.name for c in configs]
    out = {}
    for sid, by_model in _model_pools(full, first_round, fits).items():
        by_model = _complete(by_model)
        scores = {m: pool.recent_wape() for m, pool in by_model.items()}
        keep = set(_ranked_distinct(by_model, scores, names)[:finalists]) | set(incumbent.get(sid, ()))
        if not keep & set(by_model):  # nothing scored (no sales): the default, as the choice would
            keep = {names[0]}
        out[sid] = [c for c in configs if c.name in keep]
    return out


def run_ranking(scores: dict[str, dict[str, float | None]], names: list[str]) -> list[str]:
    """The configurations from the best over the whole run down: each one's mean difference in
    backtest WAPE (`scores`: per series, per configuration) to the default configuration (`names[0]`),
    over the series where both are scored (paired: one that only long histories have is judged on
    those). One series' three origins barely tell two configurations apart; the mean over the run's
    series does (M1, every configuration alone, the run's ranking against the test's: the same first
    four of 24, 0.1528 / 0.1554 / 0.1594 / 0.1622 backtest, 0.1552 / 0.1567 / 0.1583 / 0.1596 test)."""
    differences: dict[str, list[float]] = defaultdict(list)
    for by_model in scores.values():
        default = by_model.get(names[0])
        if not _scored(default):
            continue
        for m, value in by_model.items():
            if _scored(value):
                differences[m].append(value - default)
    return sorted(differences, key=lambda m: (float(np.mean(differences[m])), names.index(m)))


def simplest_within_noise(by_model: dict[str, _Pool], best: str, names: list[str], simplicity) -> str:
    """The simplest configuration (lowest `simplicity(name)`) whose paired per-origin errors are
    within one standard error of the best's (the one-standard-error rule): a more flexible model
    has to beat a simpler one by more than the origins' noise. `best` where it cannot be judged
    (fewer than SIMPLEST_MIN_ORIGINS origins, an origin that trained on less than two years)."""
    reference = by_model[best]
    if (len(reference.actual) < SIMPLEST_MIN_ORIGINS or min(reference.train_months) < SIMPLEST_MIN_TRAIN_MONTHS
            or (base := reference.per_origin()) is None):
        return best
    judged = [(m, errors) for m in names if (pool := by_model.get(m)) is not None
              and (errors := pool.per_origin()) is not None]
    if not judged:
        return best
    diff = np.array([errors for _, errors in judged]) - base  # configurations x origins, paired by origin
    weight = np.arange(1, diff.shape[1] + 1, dtype=float)  # by recency, as the score is (`_Pool.recent_wape`)
    close = diff @ weight / weight.sum() <= diff.std(axis=1, ddof=1) / np.sqrt(diff.shape[1])
    within = [m for (m, _), ok in zip(judged, close) if ok]
    return min(within, key=lambda m: (simplicity(m), names.index(m)), default=best)


def _scored(value: float | None) -> bool:
    return value is not None and bool(np.isfinite(value))


def _level(series_id: str) -> str:
    """total, family or sku: the level of a `series_id_of` id."""
    return series_id.split("|", 1)[0]


def _score_of(choice: ModelChoice, by_model: dict[str, _Pool]) -> float | None:
    if any(m not in by_model for m in choice.members):
        return None
    if len(choice.members) == 1:
        return by_model[choice.members[0]].recent_wape()
    first = by_model[choice.members[0]]
    pool = _Pool()
    for j, actual in enumerate(first.actual):
        pool.add(actual, choice.combine([by_model[m].forecast[j] for m in choice.members]), first.train)
    return pool.recent_wape()


def choose_models(full: HistoryView, preps: list[tuple[PreparedView, int]], fits: dict[str, FitResult],
                  configs: list[ProphetConfig], incumbent: dict[str, tuple[str, ...]], combine: int,
                  simplicity=None, run_best: int = RUN_BEST) -> dict[str, ModelChoice]:
    """Per series, among the configurations scored at every origin: the one with the lowest WAPE
    pooled over the origins, recent ones weighing more (`_Pool.recent_wape`), or the simplest
    within noise of it (`simplest_within_noise`, where `simplicity` ranks the configurations); but
    where `combine` (>= 2) distinct ones are scored, the mean of the best `combine` of them and of
    the run's `run_best` best (`run_ranking`) the series has scored, each forecast once, always
    (forecast combination: 3 to 5 members); with fewer, the mean or median of its best 2, 3, ...
    where that scores no worse than the best single configuration over the same origins (`combine` <
    2: never).
    Last cycle's choice (`incumbent`: its configuration, or a combination's members) stays
    unless the new one is better by more than MODEL_SWITCH_MARGIN, so the published forecast does
    not change model on noise."""
    pools = {sid: _complete(by_model) for sid, by_model in _model_pools(full, preps, fits).items()}
    return choose_from_pools(pools, [c.name for c in configs], incumbent, combine, simplicity, run_best)


def choose_from_pools(pools: dict[str, dict[str, _Pool]], names: list[str], incumbent: dict[str, tuple[str, ...]],
                      combine: int, simplicity=None, run_best: int = RUN_BEST) -> dict[str, ModelChoice]:
    """`choose_models` on the pools of every series (series id -> configuration -> its pool, the
    configurations scored at every origin only), `names` the configurations in order, the default first."""
    scores_of = {sid: {m: pool.recent_wape() for m, pool in by_model.items()} for sid, by_model in pools.items()}
    # Ranked per level: a level's series are alike (the total is no family, whose choice its own backtest
    # makes: on Superstore at 30 months the families' best, level corrections, were 3 times worse on the
    # total than its flat model).
    levels = {sid: _level(sid) for sid in pools}
    run_order = {level: run_ranking({sid: scores_of[sid] for sid in pools if levels[sid] == level}, names)
                 for level in set(levels.values())} if run_best > 0 else {}
    chosen = {}
    for sid, by_model in pools.items():
        scores = scores_of[sid]
        best = lowest(scores, names)
        single = simplest_within_noise(by_model, best, names, simplicity) if simplicity and best in by_model else best
        choice, score = ModelChoice((single,)), scores.get(single)
        top_score = scores.get(best)
        distinct = _ranked_distinct(by_model, scores, names) if combine >= 2 and top_score is not None else []
        if len(distinct) >= combine >= 2:
            # The mean of the best `combine`, whatever their own backtest says: choosing one of 14 on three
            # origins is noisy, the mean of the best few is not (mean WAPE, M1 + tourism every 7th series,
            # damped trends in both: 0.2002 -> 0.1981; M1 every 5th, before the damped trends and this
            # 0.1876, after both 0.1743). The run's best join them: what did best over all the run's series,
            # where this series' own three origins cannot tell (mean WAPE, M1 / tourism every 7th series, a
            # development and a confirmation sample: 0.1879 / 0.1657 -> 0.1775 / 0.1628, 0.1826 / 0.2015 ->
            # 0.1785 / 0.1945; docs/benchmarks.md).
            members = distinct[:combine]
            held_forecasts = {by_model[m].signature() for m in members}
            order = run_order.get(levels.get(sid), [])
            run_rank = {m: float(i) for i, m in enumerate(order) if m in by_model and _scored(scores.get(m))}
            for m in _ranked_distinct(by_model, run_rank, order)[:run_best]:
                if (signature := by_model[m].signature()) is None or signature not in held_forecasts:
                    members.append(m)
            choice = ModelChoice(_in_order(members, names), "mean")
            score = _score_of(choice, by_model)
        elif distinct:
            for k in range(2, min(combine, len(distinct)) + 1):  # the mean (and median) of the best 2, 3, ...
                for how in ("mean", "median") if k >= 3 else ("mean",):
                    combo = ModelChoice(_in_order(distinct[:k], names), how)
                    value = _score_of(combo, by_model)
                    if value is not None and value <= top_score and (score is None or value < score):
                        choice, score = combo, value
        held = incumbent.get(sid)
        if held and score is not None:
            held = _in_order(held, names)
            kept = [ModelChoice(held)] if len(held) == 1 else [ModelChoice(held, h) for h in ("mean", "median")[:len(held) - 1]]
            for candidate in kept:
                value = _score_of(candidate, by_model)
                if keeps_incumbent(value, min(score, top_score)):
                    choice, score = candidate, value
                    break
        chosen[sid] = choice
    return chosen


def _in_order(members, names: list[str]) -> tuple[str, ...]:
    """A combination's members in the configurations' order, not by rank: the same combination has one
    name, chosen afresh or kept from last cycle (two near-tied members once swapped places between runs:
    mean(a, b) against mean(b, a))."""
    return tuple(sorted(members, key=names.index))


def combined_fits(prep: PreparedView, fits: dict[str, FitResult], chosen: dict[str, ModelChoice]) -> dict[str, FitResult]:
    """The combinations' fits of one view, keyed as a fit of their own: yhat the mean (or median) of
    the members' forecasts, sigma the mean of their in-sample residual deviations (a combination is
    no Prophet fit of its own: no parameters, no warm start)."""
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
            yhat=choice.combine([r.yhat for r in members]), sigma=float(np.mean([r.sigma for r in members])),
            n_points=first.n_points, model=choice.name, engine="combination")
    return out


def keeps_incumbent(incumbent_score: float | None, best_score: float | None) -> bool:
    """Whether last cycle's choice stays: scored, and within MODEL_SWITCH_MARGIN of the best."""
    return (incumbent_score is not None and best_score is not None
            and incumbent_score <= best_score * (1 + MODEL_SWITCH_MARGIN))


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
    choice = {name: (lowest({a: fam_pools[name][a].wape() for a in APPROACHES}, list(APPROACHES))
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
