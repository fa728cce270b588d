"""Demand forecast for one plan cycle: Prophet per series and configuration, backtested on rolling
origins, reconciled across levels, coherent. This module runs the stages in order:

1. `input_checks`: the history is what the forecast needs (a clear error otherwise);
2. `classification`: the series of each view (the full history and every backtest origin's
   training part): which SKUs are fitted, active, a share of their family; their fit tasks;
3. the fits (`executor`, `fitting`; the exact engine by default, `forecast.engine`);
4. `backtest`: scores on the origins, the configuration per series, the approach per family;
5. `approaches`: each approach's numbers from the fits; `bands`: the prediction band;
6. `publish`: the coherent forecast, accuracy and parameter frames.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

from sop_pipeline.common.months import month_number
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.approaches import APPROACHES, assemble
from sop_pipeline.forecasting.backtest import (
    RUN_BEST,
    backtest_cuts,
    choose_models,
    combined_fits,
    first_round_origins,
    race_finalists,
    run_backtest,
    with_history_notes,
)
from sop_pipeline.forecasting.classification import PreparedView, build_view, prepare
from sop_pipeline.forecasting.executor import prewarm, release_pool, run_fits
from sop_pipeline.forecasting.fit_cache import fit_origins
from sop_pipeline.forecasting.fitting import ProphetConfig
from sop_pipeline.forecasting.input_checks import validate_history
from sop_pipeline.forecasting.models import model_configs, simplicity
from sop_pipeline.forecasting.publish import ACCURACY_SCHEMA, FORECAST_SCHEMA, PARAMS_SCHEMA, publish_forecast

__all__ = ["ACCURACY_SCHEMA", "FORECAST_SCHEMA", "PARAMS_SCHEMA", "ForecastResult", "forecast_demand"]


@dataclass
class ForecastResult:
    forecast: pl.DataFrame          # FORECAST_SCHEMA, horizon months only
    accuracy: pl.DataFrame          # ACCURACY_SCHEMA, backtest scores
    approach_by_family: dict[str, str]
    params: pl.DataFrame            # PARAMS_SCHEMA, for the next cycle's warm start
    stats: dict


def _warm_lookup(params: pl.DataFrame | None) -> dict[tuple[str, str], dict]:
    if params is None or params.height == 0:
        return {}
    stage = params["stage"] if "stage" in params.columns else pl.Series(["final"] * params.height)
    model = params["model"] if "model" in params.columns else pl.Series([None] * params.height)
    out = {}
    for sid, st, text, name in zip(params["series_id"], stage, params["params_json"], model):
        if text:
            # A series that published a combination has one row per member: each member keeps its own start,
            # and the series is marked `combined` (it has no single incumbent configuration).
            start = {**json.loads(text), **({"model": name} if name else {})}
            if not name:  # parameters published before configurations were named: one start per series
                out[(sid, st)] = start
                continue
            members = out[(sid, st)]["members"] if (sid, st) in out else {}
            members[name] = start  # each configuration's own start (classification.prepare picks it)
            out[(sid, st)] = {**start, "members": members, **({"combined": True} if len(members) > 1 else {})}
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
    history = validate_history(history, cycle)
    full = build_view(history)
    last_month = full.first_month + full.n_months - 1
    n_future = month_number(cycle) - last_month - 1 + settings.horizon_months
    horizon = slice(n_future - settings.horizon_months, None)
    warm = _warm_lookup(warm_start_params) if settings.warm_start else {}
    configs = model_configs(settings)
    by_name = {c.name: c for c in configs}
    workers = settings.resolved_workers()
    run = {"workers": workers, "executor": settings.executor, "dask_address": settings.dask_address}

    cuts = backtest_cuts(full.n_months, settings)
    views = [(full.truncated(n_train), f"origin{j + 1}", scored) for j, (n_train, scored) in enumerate(cuts)]
    # The race: every configuration at the first round's origins, each series' finalists at the others.
    racing = 0 < settings.backtest_finalists < len(configs)
    first = first_round_origins(len(cuts), settings.backtest_first_round) if racing else list(range(len(cuts)))
    later = [j for j in range(len(cuts)) if j not in first]
    # Last cycle's choice per series (from its published fits: one configuration, or a combination's
    # members), where every member is still a candidate.
    incumbent = {sid: tuple(init["members"]) if init.get("combined") else (init["model"],)
                 for (sid, stage), init in warm.items() if stage == "final" and "model" in init}
    incumbent = {sid: held for sid, held in incumbent.items() if set(held) <= {c.name for c in configs}}
    preps: list[tuple[PreparedView, int] | None] = [None] * len(cuts)
    for j in first:
        view, stage, scored = views[j]
        preps[j] = (prepare(view, settings, stage, scored, lambda _sid: configs, {}), scored)
    first_tasks = sum(len(preps[j][0].tasks) for j in first)
    n_series = len(preps[first[-1]][0].tasks) // max(len(configs), 1) + 1 if first else 0
    fit_started = time.perf_counter()
    # An estimate until the finalists and the published fits are known: most series publish the mean of
    # their best `combine_models` configurations and the run's best RUN_BEST, fitted again on the whole
    # history (the total grew mid-run when this counted one per series).
    total_tasks = [first_tasks + len(later) * n_series * min(settings.backtest_finalists, len(configs))
                   + n_series * min(settings.combine_models + RUN_BEST, len(configs))]
    done = [0]

    def fit(tasks, release: bool = False, meanwhile=None):
        offset = done[0]
        done[0] += len(tasks)
        report = None if progress is None else (lambda n, _total, key: progress(offset + n, total_tasks[0], key))
        if release:  # the final round
            return run_fits(tasks, progress=report, release=True, meanwhile=meanwhile, **run)
        # A backtest origin: reused whole within a backfill (fit_cache.py says why that is exact).
        return fit_origins(tasks, progress=report, **run)

    if settings.executor == "local" and workers > 1 and first_tasks > 0:
        prewarm(workers)  # one pool for every round (a no-op when the CLI started it already)
    try:
        fits: dict = {}
        for j in first:  # one call per origin: its tasks share their dates, so batch well
            fits |= fit(preps[j][0].tasks)
        finalists = race_finalists(full, [preps[j] for j in first], fits, configs, settings.backtest_finalists,
                                   incumbent) if racing else {}
        for j in later:
            view, stage, scored = views[j]
            preps[j] = (prepare(view, settings, stage, scored, lambda sid: finalists.get(sid, configs), {}), scored)
            fits |= fit(preps[j][0].tasks)
        preps = [p for p in preps if p is not None]
        default = configs[0].name
        chosen = (choose_models(full, preps, fits, configs, incumbent, settings.combine_models,
                                lambda name: simplicity(by_name[name])) if preps else {})
        for prep, _ in preps:
            fits |= combined_fits(prep, fits, chosen)
        chosen_model = {sid: c.name for sid, c in chosen.items()}

        def final_configs(series_id: str) -> list[ProphetConfig]:
            choice = chosen.get(series_id)
            return [by_name[m] for m in choice.members] if choice else [by_name[default]]

        final = prepare(full, settings, "final", n_future, final_configs, warm)
        total_tasks[0] = done[0] + len(final.tasks)
        backtest: list = [None]

        def score_approaches() -> None:  # needs no final fit: runs here while the workers fit them
            backtest[0] = run_backtest(full, preps, fits, chosen_model, default, settings.approach) if preps else None

        final_fits = fit(final.tasks, release=True, meanwhile=score_approaches)
        outcome = backtest[0]
    finally:
        release_pool()
    fit_seconds = time.perf_counter() - fit_started

    default_choice = "top_down" if settings.approach == "best" else settings.approach
    choice = {name: (outcome.choice.get(name, default_choice) if outcome else default_choice) for name in full.families}

    def model_of(series_id: str) -> str:
        return chosen_model.get(series_id, default)

    final_numbers = assemble(final, final_fits | combined_fits(final, final_fits, chosen), model_of)
    forecast = publish_forecast(final, final_numbers, choice, model_of, outcome.band if outcome else {}, settings, horizon)
    rows = with_history_notes(outcome.rows if outcome else [], final, settings, outcome is not None)

    all_fits = [r for r in fits.values() if r.engine != "combination"] + list(final_fits.values())
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
        "backtest_first_round": [f"origin{j + 1}" for j in first],  # every configuration fitted there
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
