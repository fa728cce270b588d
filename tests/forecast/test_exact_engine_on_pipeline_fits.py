"""Acceptance check of the exact engine: against CmdStan, on the fits the pipeline itself makes.

Data sets: the demo (assets/demo/sales_history.csv bucketed to family/SKU/month as the ingest
does, the demo's own forecast settings), Superstore (Sub-Category as family, Product ID as SKU),
Walmart's 45 stores (monthly sums of Weekly_Sales, each store a family that is its own only SKU)
and the single series of ../shared/data (US retail sales, Australian wine, air passengers), the
last four with the default forecast settings (`forecast.models: auto`, the configurations of models.py; 6 rolling
backtest origins). Each is forecast for the month after its last month of history.

The fits are the pipeline's own tasks, built as `forecast_demand` builds them (`backtest_cuts`,
`_prepare`; `test_collected_tasks_are_the_pipelines` holds that to the tasks `run_fits` is given).
Fitting all of them with CmdStan would take thousands of CmdStan runs (the demo alone has 3,432),
so a deterministic sample is compared, covering every series the pipeline fits:
- the final stage of every series (total, families, fitted SKUs) in the first configuration (the
  one ties keep) and in a rotating one, so every configuration occurs (the pipeline fits only the
  backtest's choice there);
- one backtest task per series: series i (in sorted order) at origin i mod (the number of origins)
  with the configuration after that in rotation, so every origin/configuration pair occurs (the next
  origin where the series is not fitted at that one, e.g. a SKU too young there). The collector
  builds every configuration at every origin: a superset of what the race fits after its first
  round (the finalists), so the sample covers the tasks the pipeline fits and may fit.
A data set with at most ALL_TASKS_UP_TO tasks (each single series: 4 stages x its configurations)
has all of them compared, and SOP_EXACTNESS_ALL=1 compares every task of every data set.

Each task is fitted by the exact engine (`fit_exact`, the shared design, as the pipeline runs it)
and by Prophet with its own CmdStan backend (`sig_figs=18`, so its optimum is not rounded to six
digits). Both optima are scored by `log_posterior` on the Stan data CmdStan was given, so the
constant is the same (the tests also check it against CmdStan's lp__ and the exact engine's own
lp). The issue's criterion, per data set: exact >= cmdstan - 0.01 on at least 99% of fits, and
never more than 1.0 below. Run `python -m tests.forecast.test_exact_engine_on_pipeline_fits` for the table.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd
import polars as pl
import pytest

from benchmarks.synthetic import synthetic_history
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import fitting
from sop_pipeline.forecasting import pipeline as fp
from sop_pipeline.forecasting.exact import log_posterior
from sop_pipeline.forecasting.fitting import FitTask
from sop_pipeline.forecasting.models import model_configs
from tests.support.pipeline_tasks import cycle_of, history_of, pipeline_tasks, settings_of

# CmdStan's own lp__ against `log_posterior` at CmdStan's parameters (sig_figs=18): the same objective
# and constant, so they agree to rounding; CmdStan's reported lp__ is off its parameters' by up to
# 2.5e-9 relative on the demo's degenerate fits (sigma_obs sliding to 0, lp 600-900, where lp moves
# fast with sigma), 1.04e-8 on one Walmart fit (origin5, lp 302.6) and 2.9e-8 on a degenerate demo fit
# (lp 769.7) the sample reached once the damped configurations joined. 5e-8 is about twice the worst seen;
# a wrong objective or constant is off by whole units.
LP_REPORTED_RTOL = 5e-8
LP_TOLERANCE = 0.01      # the "at least cmdstan's minus 0.01" ...
SHARE_WITHIN = 0.99      # ... "on 99% of series"
WORST_GAP = -1.0         # ... "and never more than 1.0 below"
# Backtest WAPE (family level, 'chosen', pooled) of the exact engine may exceed CmdStan's by this
# much: each series picks among its configurations by its backtest WAPE and each family among 4
# approaches, so a fit that moves by a hair can flip a choice and move a family's error by whole
# percent of its volume, either way. 0.002 is under 1% of Superstore's WAPE (0.25); measured with
# the engines' optima as they are: Superstore exact 0.25027, cmdstan 0.25019; Walmart 0.12739 both.
WAPE_TOLERANCE = 0.002
ALL_TASKS_UP_TO = 100
SINGLE_SERIES = ("us_retail_sales_monthly", "australian_wine_sales_monthly", "air_passengers_monthly")
DATA_SETS = ("demo", "superstore", "walmart", *SINGLE_SERIES)


def sampled_tasks(final: list[FitTask], origins: list[list[FitTask]], configs: list) -> list[FitTask]:
    """Per series: its final-stage fit in the first configuration (the one ties keep) and in a
    rotating one, and one backtest task rotating over origins and configurations."""
    names = [c.name for c in configs]
    final_by_key = {(t.series_id, t.config.name): t for t in final}
    by_key = {(t.series_id, t.stage, t.config.name): t for tasks in origins for t in tasks}
    picked = []
    times_picked = Counter()
    for i, series_id in enumerate(sorted({t.series_id for t in final})):
        own = [n for n in names if (series_id, n) in final_by_key]  # its configurations (some are the same model)
        # The rotating one: its configuration picked least so far (the first such), so every configuration
        # occurs once there are as many series as configurations, whichever are aliases of which.
        rotating = min(own, key=lambda n: (times_picked[n], own.index(n)))
        for name in dict.fromkeys([own[0], rotating]):
            picked.append(final_by_key[(series_id, name)])
            times_picked[name] += 1
        if not origins:
            continue
        config = names[(i // len(origins)) % len(names)]
        for j in range(len(origins)):
            task = by_key.get((series_id, f"origin{(i + j) % len(origins) + 1}", config))
            if task is not None:
                picked.append(task)
                break
    return picked


# --------------------------------------------------------------------------- one task, both engines


def compare_task(task: FitTask, exact: fitting.FitResult | None = None) -> dict:
    """Fit `task` with the exact engine (or take its exact result `exact`) and with CmdStan; both
    optima scored on CmdStan's Stan data."""
    if exact is None:
        exact = fitting.fit_exact(replace(task, config=replace(task.config, engine="exact")))
    row = {"series_id": task.series_id, "stage": task.stage, "model": task.config.name, "T": len(task.y),
           "exact_engine": exact.engine, "lp_exact": math.nan, "lp_exact_own": math.nan,
           "lp_cmdstan": math.nan, "lp_cmdstan_reported": math.nan, "note": None}
    if exact.method != "prophet":
        row["note"] = f"not fitted by Prophet: {exact.note}"
        return row
    model = fitting._build_model(task.config, task.months, task.future)  # the model fit_series fits
    backend, recorded = model.stan_backend, {}
    stan_fit = backend.fit

    def recording(stan_init, stan_data, **kwargs):
        recorded["data"] = stan_data
        return stan_fit(stan_init, stan_data, **kwargs)

    backend.fit = recording
    try:
        # The values the configuration fits (log units for `transform: log`), as fit_series gives CmdStan.
        model.fit(pd.DataFrame({"ds": pd.to_datetime(task.months), "y": fitting.model_y(task)}), sig_figs=18)
    except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
        row["note"] = f"CmdStan failed: {exc}"
        return row
    finally:
        backend.cleanup()
    if "data" not in recorded:  # Prophet's constant-series rule: no fit, no objective
        row["note"] = "constant series: Prophet fits nothing"
        return row
    data = recorded["data"]
    row["lp_cmdstan"] = log_posterior(model.params, data)
    row["lp_cmdstan_reported"] = float(model.params["lp__"][0, 0])
    row["lp_exact"] = log_posterior(json.loads(exact.params_json), data)
    row["lp_exact_own"] = exact.log_posterior
    return row


@cache
def comparison(name: str) -> pd.DataFrame:
    """One row per compared task of data set `name` (see the module docstring for which)."""
    fitting.quiet_stan()
    history, settings = history_of(name), settings_of(name)
    final, origins = pipeline_tasks(history, settings, cycle_of(history))
    tasks = [*final, *(t for ts in origins for t in ts)]
    if len(tasks) > ALL_TASKS_UP_TO and os.environ.get("SOP_EXACTNESS_ALL") != "1":
        tasks = sampled_tasks(final, origins, model_configs(settings))
    # the exact side as the pipeline fits it: tasks of one design and configuration in batched solves
    exact = fitting.fit_chunk([replace(t, config=replace(t.config, engine="exact")) for t in tasks])
    rows = pd.DataFrame([compare_task(task, result) for task, result in zip(tasks, exact, strict=True)])
    rows.insert(0, "data_set", name)
    rows["gap"] = rows["lp_exact"] - rows["lp_cmdstan"]
    return rows


def summary(rows: pd.DataFrame) -> dict:
    scored = rows[rows["gap"].notna()]
    gap = scored["gap"]
    worst = scored.loc[gap.idxmin()] if len(scored) else None
    per_series = scored.groupby("series_id")["gap"].min()
    return {
        "series": rows["series_id"].nunique(), "fits": len(scored), "not_compared": int(rows["gap"].isna().sum()),
        "cmdstan_fallbacks": int(rows["exact_engine"].str.startswith("cmdstan").sum()),
        "share_within": float((gap >= -LP_TOLERANCE).mean()) if len(scored) else math.nan,
        "series_share_within": float((per_series >= -LP_TOLERANCE).mean()) if len(scored) else math.nan,
        "worst_gap": float(gap.min()) if len(scored) else math.nan,
        "worst": None if worst is None else f"{worst['stage']}|{worst['series_id']}|{worst['model']}",
        "median_gap": float(gap.median()) if len(scored) else math.nan,
        "exact_better_by_0.01": int((gap > LP_TOLERANCE).sum()),
    }


# --------------------------------------------------------------------------- the tests


def test_collected_tasks_are_the_pipelines(monkeypatch):
    """The collector builds exactly the tasks `forecast_demand` hands to `fit_origins` and `run_fits`:
    one call per backtest origin, the race's first round (the oldest and the latest origin) with every
    configuration, the other origins each series' finalists only (at most `backtest_finalists`,
    the same at every one of them), then the final call with the chosen configurations'."""
    history = synthetic_history(8, 40, 3, seed=3)
    cycle = cycle_of(history)
    # The race as an option (off by default): six origins two months apart, three finalists.
    settings = ForecastSettings(workers=1, horizon_months=6, backtest_months=6, backtest_origins=6,
                                backtest_step_months=2, backtest_finalists=3)
    given: list[list[FitTask]] = []
    def recording(real):
        def record(tasks, **kwargs):
            given.append(list(tasks))
            return real(tasks, **kwargs)
        return record

    monkeypatch.setattr(fp, "fit_origins", recording(fp.fit_origins))
    monkeypatch.setattr(fp, "run_fits", recording(fp.run_fits))
    fp.forecast_demand(history, settings, cycle)
    final, origins = pipeline_tasks(history, settings, cycle)

    def same(a: FitTask, b: FitTask) -> bool:
        return (a.key == b.key and a.config == b.config and np.array_equal(a.months, b.months)
                and np.array_equal(a.y, b.y) and np.array_equal(a.future, b.future))

    n_origins = settings.backtest_origins
    assert len(origins) == n_origins == 6 and len(given) == n_origins + 1
    first_round, later = given[:2], given[2:-1]
    stages = [{t.stage for t in tasks} for tasks in given[:-1]]
    assert stages == [{"origin1"}, {"origin6"}, {"origin2"}, {"origin3"}, {"origin4"}, {"origin5"}]
    for tasks, collected in zip(first_round, (origins[0], origins[-1]), strict=True):
        assert len(tasks) == len(collected) and all(same(a, b) for a, b in zip(tasks, collected, strict=True))
    # 12 series (1 total + 3 families + 8 SKUs), each in every configuration that is a model of its
    # own for that history (models.py; a month-effects model on two years is not; the 8-year window
    # is no candidate on 40 months; the log scale is the units' model where a month is zero).
    n_configs = len(model_configs(settings))
    per_series = Counter((t.series_id, t.stage) for ts in first_round for t in ts)
    assert len(per_series) == 2 * 12 and all(n_configs - 4 <= n <= n_configs for n in per_series.values())
    finalists = {}
    for tasks in later:
        names: dict[str, set] = {}
        for t in tasks:
            names.setdefault(t.series_id, set()).add(t.config.name)
        assert len(names) == 12 and all(1 <= len(n) <= settings.backtest_finalists for n in names.values())
        for sid, n in names.items():
            assert finalists.setdefault(sid, n) == n  # the same finalists at every later origin
    # The collector, given the finalists, builds those later origins' tasks exactly.
    _, raced = pipeline_tasks(history, settings, cycle, lambda sid: finalists[sid])
    for tasks, collected_j in zip(later, raced[1:-1], strict=True):
        assert len(tasks) == len(collected_j) and all(same(a, b) for a, b in zip(tasks, collected_j, strict=True))
    # One task per series, or one per member of its combination; the collector, given each series' chosen
    # configurations, builds them exactly. (Not a lookup in `final`, every configuration's: there a member
    # can be an alias of an earlier configuration, e.g. the log scale of a series with a zero month is its
    # units' model, fitted once under the earlier name, while the final round fits it under its own.)
    chosen: dict[str, set] = {}
    for t in given[-1]:
        chosen.setdefault(t.series_id, set()).add(t.config.name)
    final_chosen, _ = pipeline_tasks(history, settings, cycle, lambda sid: chosen.get(sid, set()))
    by_key = {t.key: t for t in final_chosen}
    assert 1 + 3 + 8 <= len(given[-1]) <= 3 * (1 + 3 + 8) and all(same(t, by_key[t.key]) for t in given[-1])
    assert len(final_chosen) == len(given[-1])
    assert {t.series_id for t in given[-1]} == {t.series_id for t in final}
    sample = sampled_tasks(final, origins, model_configs(settings))
    finals = [t for t in sample if t.stage == "final"]
    assert {t.series_id for t in finals} == {t.series_id for t in final}  # every series
    assert 12 <= len(finals) <= 24 and len(sample) - len(finals) <= 12
    assert {t.stage for t in sample} == {"final"} | {f"origin{j + 1}" for j in range(n_origins)}
    assert len({t.config.name for t in finals}) >= 6  # the rotation reaches the configurations


def test_exact_matches_cmdstan_on_air_passengers_final_fits():
    """The quick version: the final-stage fits of one real series in every configuration (CmdStan runs L-BFGS here)."""
    history = history_of("air_passengers_monthly")
    final, _ = pipeline_tasks(history, settings_of("air_passengers_monthly"), cycle_of(history))
    rows = pd.DataFrame([compare_task(t) for t in final])
    assert len(rows) == len(final) >= 6 and (rows["exact_engine"] == "exact (shared design)").all()
    # The configurations beyond mode and prior scale are among them, each fitted as configured: the
    # log scale, the training window (the last 8 of 12 years) and the changepoint range.
    by_model = {t.config.name: t for t in final}
    assert by_model["log_additive_cps0.05"].config.log_scale(by_model["log_additive_cps0.05"].y)
    assert len(by_model["multiplicative_cps0.05_last8y"].y) == 96 < len(by_model["multiplicative_cps0.05"].y)
    assert by_model["multiplicative_cps0.05_last8y"].config.changepoint_range == 0.9
    np.testing.assert_allclose(rows["lp_cmdstan"], rows["lp_cmdstan_reported"], rtol=LP_REPORTED_RTOL)
    np.testing.assert_allclose(rows["lp_exact"], rows["lp_exact_own"], rtol=1e-9)
    assert (rows["lp_exact"] >= rows["lp_cmdstan"] - LP_TOLERANCE).all(), rows.to_string()


@pytest.mark.slow
@pytest.mark.parametrize("name", DATA_SETS)
def test_exact_log_posterior_is_at_least_cmdstans(name):
    rows = comparison(name)
    s = summary(rows)
    print(f"\n{name}: {s}")
    assert rows["note"].isna().all(), rows.loc[rows["note"].notna(), ["series_id", "stage", "model", "note"]].to_string()
    # The same objective, the same constant: CmdStan's own lp__ (LP_REPORTED_RTOL), and the exact engine's own lp.
    np.testing.assert_allclose(rows["lp_cmdstan"], rows["lp_cmdstan_reported"], rtol=LP_REPORTED_RTOL, atol=1e-9)
    exact = rows[rows["exact_engine"].str.startswith("exact")]
    np.testing.assert_allclose(exact["lp_exact"], exact["lp_exact_own"], rtol=1e-9, atol=1e-9)
    assert s["share_within"] >= SHARE_WITHIN, s
    assert s["worst_gap"] > WORST_GAP, s


@pytest.mark.slow
def test_every_series_the_pipeline_fits_is_compared():
    """The sample reaches every series of every data set's final stage, and every configuration."""
    for name in DATA_SETS:
        rows = comparison(name)
        history = history_of(name)
        final, _ = pipeline_tasks(history, settings_of(name), cycle_of(history))
        compared = rows[rows["stage"] == "final"]
        assert set(compared["series_id"]) == {t.series_id for t in final}, name
        assert set(compared["model"]) == {t.config.name for t in final}, name


def pooled_family_wape(result: fp.ForecastResult) -> float:
    family = result.accuracy.filter((pl.col("level") == "family") & (pl.col("method") == "chosen"))
    return family["sum_abs_error"].sum() / family["sum_actual"].sum()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["superstore", "walmart"])
def test_backtest_wape_exact_is_no_worse_than_cmdstan(name):
    """The published backtest WAPE (family level, 'chosen', pooled over families and origins) with
    `engine: exact` is at most CmdStan's + WAPE_TOLERANCE, everything else equal.

    Equal optima give equal forecasts, so the two differ only where CmdStan stops short of the
    optimum (or the optima tie and the solvers pick different ones); then a series' configuration
    or a family's approach can flip, which moves the pooled WAPE by a few thousandths either way.
    """
    history, settings = history_of(name), settings_of(name)
    cycle = cycle_of(history)
    # One configuration per series (models: default) keeps CmdStan's side affordable in CI (with
    # models: auto it is ~3,000 CmdStan fits, 7 minutes; measured then: Superstore exact 0.25027
    # against cmdstan 0.25019, Walmart 0.12739 both).
    settings = settings.model_copy(update={"models": "default"})
    wape = {engine: pooled_family_wape(fp.forecast_demand(history, settings.model_copy(update={"engine": engine}), cycle))
            for engine in ("exact", "cmdstan")}
    print(f"\n{name}: backtest WAPE exact {wape['exact']:.5f}, cmdstan {wape['cmdstan']:.5f}")
    assert wape["exact"] <= wape["cmdstan"] + WAPE_TOLERANCE, wape


if __name__ == "__main__":  # python -m tests.forecast.test_exact_engine_on_pipeline_fits [data set ...]
    import sys

    names = sys.argv[1:] or list(DATA_SETS)
    table = []
    for set_name in names:
        frame = comparison(set_name)
        table.append({"data set": set_name, **summary(frame)})
        print(table[-1], flush=True)
    print(pd.DataFrame(table).to_string(index=False))
