"""Forecast accuracy on real sales: the pipeline's family forecast against the usual methods.

    # once: a venv of its own for the baselines (statsforecast needs pandas<3)
    python3 -m venv .venv-bench && .venv-bench/bin/pip install -q -e '.[dev,bench]'
    .venv-bench/bin/python benchmarks/accuracy_bench.py            # every column; fills the cache
    .venv/bin/python benchmarks/accuracy_bench.py --set approach=top_down   # pipeline only, baselines cached
    python benchmarks/accuracy_bench.py --only singles --origins 5 --step 6 --csv /tmp/wape.csv

Series (65 of them plus the 752 of the competitions, all in ../shared/data, see its README.md)
- singles: US retail sales, Australian wine sales, air passengers; each forecast alone as
  family = sku = "all".
- superstore: the 17 Sub-Categories (family), Product ID as SKU, Quantity as units; the whole
  data set (17 families and their SKUs) is one forecast, as a user's would be.
- m1, tourism (competition_monthly.csv): 386 M1 series and the tourism competition's 366 monthly
  series, each a family that is its own only SKU, scored once on the competition's own test months
  (M1 18, tourism 24; the pipeline's horizon set to match), every series' training months ending in
  the same calendar month (the corpus has none of its own). The series of one test length are one
  forecast with `approach: top_down`, so each publishes its own fit as a line forecast alone would.
  `--sample N` keeps every N-th series of each competition (development runs), from the
  `--sample-offset K`-th (0-based): one N with two offsets gives two samples without a common series.
- walmart: the 45 stores (family = sku = store), Weekly_Sales summed per calendar month of each
  week's date (the week ending on that Friday, as the holiday flags show); the 45 stores are one forecast.
Only whole months count. A first or last month counts as partial when the data stops more days
short of the month's edge than the longest stretch without any record inside the data (a quiet
day is not a cut-off); partial months are dropped, and the bench says so.

Method: rolling origin. The last origin is 12 months before the end of the data, the others
`--step` months before it (`--origins` of them); an origin with fewer than 12 months of history
before it is skipped (and said). At each origin every method sees the months before it and
forecasts the 12 months from it. Per series and origin WAPE = sum |forecast - actual| / sum actual
over those 12 months, forecasts floored at zero (no method may publish negative demand; the
pipeline floors its own). A series' score is its mean over origins; a group's is the mean over its
series; "overall" is the mean over all series. A series/origin is left out (and counted) when its
12 actual months sum to zero or a column has no forecast for it.

Columns
- pipeline: `sop_pipeline.forecasting.forecast_demand` at family level, horizon 12, 1 worker, no
  warm start, the rest of `ForecastSettings` at its defaults unless `--set key=value` (YAML value,
  repeatable) overrides it; an unknown key or a bad value stops the bench with pydantic's message.
- seasonal_naive: the same month last year (the project's `metrics.seasonal_naive`).
- prophet_additive, prophet_multiplicative: stock Prophet with its own CmdStan backend and defaults
  (yearly seasonality as Prophet's "auto" decides: on from two years of history), weekly and daily
  seasonality off, on month-start dates; uncertainty_samples=0 (the point forecast is the same).
- auto_ets, auto_theta, auto_arima: statsforecast's AutoETS, AutoTheta and AutoARIMA, season_length=12.

Scores: WAPE (above), sMAPE (mean of 200 |f - a| / (|a| + |f|), percent) and MASE (mean |f - a|
over the in-sample mean absolute error of the seasonal naive forecast), each per series and origin,
averaged as WAPE is; the bench says per group whether the pipeline beats the best of AutoETS,
AutoTheta and AutoARIMA (the issue's criterion).

Two interpreters, one cache. statsforecast needs pandas<3, the project's venv has pandas 3, so the
baselines run in the bench venv (`pip install -e '.[dev,bench]'`); the pipeline runs in either (the
project supports pandas 2 and 3). The baseline forecasts do not change when the pipeline does, so
they are kept in `--cache` (default benchmarks/.cache/accuracy_baselines.json, git-ignored), keyed by
data set, series and origin with a hash of the training months: run the bench once in the bench
venv, then as often as you like in the project's venv, where every baseline, AutoETS and AutoTheta
included, comes from the cache and a run costs the pipeline's time only. A baseline not in the
cache is computed when its library imports here; otherwise its column is left out with a note
(the pipeline column always runs). Run the project's venv with PYTHONPATH set to this checkout
when its editable install points at another one. That is the whole protocol: no subprocess, no
second interpreter to find, nothing to keep in step between two processes.

Target: the pipeline's overall mean WAPE the lowest of all columns.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from sop_pipeline.common.months import add_months, month_end, months_between

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SOP_SHARED_DATA") or ROOT.parent / "shared" / "data")  # as tests/conftest.py
CACHE = ROOT / "benchmarks" / ".cache" / "accuracy_baselines.json"
CACHE_VERSION = 1  # raise it when a baseline's definition changes: older cached forecasts are then dropped
HORIZON = 12
MIN_TRAIN_MONTHS = 12
SEASON = 12
GROUPS = ("singles", "superstore", "walmart", "m1", "tourism")
COMPETITION_GROUPS = ("m1", "tourism")
COMPETITION_END = date(2019, 12, 1)  # a competition series' last training month (its `t` has no calendar)
METRICS = ("wape", "smape", "mase")
PIPELINE = "pipeline"
BASELINES = ("seasonal_naive", "prophet_additive", "prophet_multiplicative", "auto_ets", "auto_theta", "auto_arima")
COLUMNS = (PIPELINE, *BASELINES)
LIBRARY = {"seasonal_naive": None, "prophet_additive": "prophet", "prophet_multiplicative": "prophet",
           "auto_ets": "statsforecast", "auto_theta": "statsforecast", "auto_arima": "statsforecast"}
SINGLE = "all"  # family and SKU of a single series


# ----------------------------------------------------------------------------------------------
# Data: whole months, one frame of monthly sales per data set.

@dataclass(frozen=True)
class Dataset:
    name: str
    group: str
    sales: pl.DataFrame     # family, sku, month (first day), units: summed per month, whole months only
    first_month: date
    last_month: date
    notes: tuple[str, ...] = ()
    test_months: int | None = None  # a competition's test months: one origin, at the first of them

    @property
    def horizon(self) -> int:
        return self.test_months or HORIZON

    @property
    def families(self) -> list[str]:
        return sorted(self.sales["family"].unique().to_list())

    def label(self, family: str) -> str:
        """The series' name in the table and the CSV: the data set for a single series, else the family."""
        return self.name if family == SINGLE else family


def longest_gap_days(days: Sequence[date]) -> int:
    """The most days between two consecutive record dates (1 for a single date)."""
    days = sorted(set(days))
    return max(((b - a).days for a, b in zip(days, days[1:])), default=1)


def whole_month_range(days: Sequence[date]) -> tuple[date, date]:
    """First and last month of records dated `days` that the records cover whole.

    An edge month is partial when more days of it lie beyond the first or last record than the
    longest stretch without records inside the data: a weekly series whose last week ends on the
    26th still covers its month, a daily one that stops on the 20th does not."""
    days = sorted(set(days))
    longest_gap = longest_gap_days(days)
    first, last = days[0].replace(day=1), days[-1].replace(day=1)
    if (days[0] - first).days >= longest_gap:
        first = add_months(first, 1)
    if (month_end(days[-1]) - days[-1]).days >= longest_gap:
        last = add_months(last, -1)
    return first, last


def monthly_dataset(name: str, group: str, records: pl.DataFrame) -> Dataset:
    """Records (family, sku, day, units) at any grain summed to whole months."""
    days = records["day"].unique().to_list()
    first, last = whole_month_range(days)
    start, end = min(days), max(days)
    dropped = [f"{start:%Y-%m}"] * (first > start) + [f"{end:%Y-%m}"] * (last < end.replace(day=1))
    notes = [f"records {start}..{end}, longest gap between records {longest_gap_days(days)} days: "
             + (f"partial month(s) {', '.join(dropped)} dropped" if dropped else "first and last month whole")]
    sales = (records.with_columns(pl.col("day").dt.truncate("1mo").alias("month"))
             .filter(pl.col("month").is_between(first, last))
             .group_by("family", "sku", "month").agg(pl.col("units").sum())
             .sort("family", "sku", "month"))
    return Dataset(name, group, sales, first, last, tuple(notes))


def _single(data: Path, file: str, day: pl.Expr, units: str) -> Dataset:
    records = pl.read_csv(data / file).select(day.alias("day"), pl.col(units).cast(pl.Float64).alias("units"))
    return monthly_dataset(file.removesuffix("_monthly.csv"), "singles",
                           records.with_columns(family=pl.lit(SINGLE), sku=pl.lit(SINGLE)))


def decimal_year_month(column: str) -> pl.Expr:
    """1980.0833 -> 1980-02-01: the year and the nearest twelfth (as the ingest's `decimal_year`)."""
    months = (pl.col(column).cast(pl.Float64) * 12).round().cast(pl.Int64)
    return pl.date(months // 12, months % 12 + 1, 1)


def read_singles(data: Path) -> list[Dataset]:
    iso = pl.col("ds").str.strptime(pl.Date, "%Y-%m-%d")
    return [_single(data, "us_retail_sales_monthly.csv", iso, "y"),
            _single(data, "australian_wine_sales_monthly.csv", decimal_year_month("time"), "value"),
            _single(data, "air_passengers_monthly.csv", iso, "y")]


def read_superstore(data: Path) -> list[Dataset]:
    lines = pl.read_csv(data / "superstore_orders.csv", encoding="utf8-lossy").select(
        pl.col("Sub-Category").alias("family"), pl.col("Product ID").alias("sku"),
        pl.col("Order Date").str.strptime(pl.Date, "%m/%d/%Y").alias("day"),
        pl.col("Quantity").cast(pl.Float64).alias("units"))
    return [monthly_dataset("superstore", "superstore", lines)]


def read_walmart(data: Path) -> list[Dataset]:
    weeks = pl.read_csv(data / "walmart_weekly_store_sales.csv").select(
        pl.col("Store").cast(pl.String).alias("family"), pl.col("Store").cast(pl.String).alias("sku"),
        pl.col("Date").str.strptime(pl.Date, "%d/%m/%y").alias("day"),
        pl.col("Weekly_Sales").cast(pl.Float64).alias("units"))
    return [monthly_dataset("walmart", "walmart", weeks)]


def read_competition(data: Path, competition: str, every: int = 1, offset: int = 0) -> list[Dataset]:
    """The `competition` series of competition_monthly.csv (`every`-th only from the `offset`-th: a
    sample; samples of one `every` and different offsets share no series), each a family
    that is its own only SKU, its training months ending at COMPETITION_END and its test months after
    it. One data set per test length (M1: 18 months, tourism: 24), so a data set is one forecast."""
    frame = pl.read_csv(data / "competition_monthly.csv").filter(pl.col("series").str.starts_with(f"{competition}|"))
    names = frame["series"].unique(maintain_order=True).to_list()[offset::every]
    frame = frame.filter(pl.col("series").is_in(names))
    lengths = frame.group_by("series").agg(n_train=(pl.col("split") == "train").sum(),
                                           n_test=(pl.col("split") == "test").sum())
    frame = frame.join(lengths, on="series")
    end = COMPETITION_END.year * 12 + COMPETITION_END.month - 1
    month = end - pl.col("n_train") + pl.col("t")
    frame = frame.with_columns(pl.date(month // 12, month % 12 + 1, 1).alias("month"))
    out = []
    for (n_test,), part in frame.group_by("n_test", maintain_order=True):
        sales = part.select(pl.col("series").alias("family"), pl.col("series").alias("sku"), "month",
                            pl.col("value").cast(pl.Float64).alias("units")).sort("family", "month")
        out.append(Dataset(f"{competition}_{n_test}m", competition, sales, sales["month"].min(), sales["month"].max(),
                           (f"{part['series'].n_unique()} series, {n_test} test months after "
                            f"{COMPETITION_END:%Y-%m} (training months ending there)",), test_months=int(n_test)))
    return out


READERS: dict[str, Callable[[Path], list[Dataset]]] = {
    "singles": read_singles, "superstore": read_superstore, "walmart": read_walmart,
    "m1": lambda data: read_competition(data, "m1", *SAMPLE),
    "tourism": lambda data: read_competition(data, "tourism", *SAMPLE)}
SAMPLE = (1, 0)  # --sample, --sample-offset: every n-th competition series from the k-th


def family_series(dataset: Dataset) -> dict[str, np.ndarray]:
    """Units per family and month from the data set's first to its last month (zero where none sold)."""
    months = pl.DataFrame({"month": pl.date_range(dataset.first_month, dataset.last_month, "1mo", eager=True)})
    totals = dataset.sales.group_by("family", "month").agg(pl.col("units").sum())
    return {family: months.join(totals.filter(pl.col("family") == family), on="month", how="left")
            .sort("month")["units"].fill_null(0.0).to_numpy()
            for family in dataset.families}


def pipeline_history(sales: pl.DataFrame, origin: date) -> pl.DataFrame:
    """The pipeline's input at `origin`: sales before it, one row per family, SKU and month, zero-filled
    between each SKU's first and last sale (as `sql/demand_history_monthly.sql` makes it)."""
    before = sales.filter(pl.col("month") < origin)
    grid = (before.group_by("family", "sku")
            .agg(pl.col("month").min().alias("first"), pl.col("month").max().alias("last"))
            .with_columns(pl.date_ranges("first", "last", "1mo").alias("month"))
            .explode("month").drop("first", "last"))
    return (grid.join(before, on=["family", "sku", "month"], how="left")
            .with_columns(pl.col("units").fill_null(0.0).cast(pl.Float64))
            .select("family", "sku", "month", "units").sort("family", "sku", "month"))


# ----------------------------------------------------------------------------------------------
# Origins and scores.

def rolling_origins(first_month: date, last_month: date, count: int, step: int) -> tuple[list[date], list[date]]:
    """(origins kept, origins skipped), oldest first. The last origin leaves exactly HORIZON months
    after it; each other is `step` months before the next; one with fewer than MIN_TRAIN_MONTHS months
    before it is skipped."""
    latest = add_months(last_month, -(HORIZON - 1))
    candidates = [add_months(latest, -step * k) for k in reversed(range(count))]
    kept = [o for o in candidates if months_between(first_month, o) >= MIN_TRAIN_MONTHS]
    return kept, [o for o in candidates if o not in kept]


def floored_wape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    """sum |max(forecast, 0) - actual| / sum actual; None when the actuals sum to zero."""
    from sop_pipeline.forecasting.metrics import wape

    return wape(actual, np.clip(np.asarray(forecast, float), 0.0, None))


def floored_smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """mean of 200 |f - a| / (|a| + |f|) in percent (a month with a = f = 0 scores 0), forecasts floored."""
    a, f = np.asarray(actual, float), np.clip(np.asarray(forecast, float), 0.0, None)
    denominator = np.abs(a) + np.abs(f)
    return float(np.mean(np.where(denominator > 0, 200 * np.abs(f - a) / np.where(denominator > 0, denominator, 1), 0)))


def floored_mase(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray) -> float | None:
    """mean |f - a| over the in-sample mean absolute error of the seasonal naive forecast (lag 12;
    lag 1 on a history shorter than 13 months), forecasts floored; None when that error is zero."""
    train = np.asarray(train, float)
    lag = SEASON if len(train) > SEASON else 1
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag]))) if len(train) > lag else 0.0
    if scale == 0:
        return None
    return float(np.mean(np.abs(np.clip(np.asarray(forecast, float), 0.0, None) - np.asarray(actual, float))) / scale)


@dataclass(frozen=True)
class Score:
    group: str
    dataset: str
    series: str
    origin: date
    train_months: int
    actual_sum: float
    wape: dict[str, float | None]  # per column
    smape: dict[str, float | None] = field(default_factory=dict)
    mase: dict[str, float | None] = field(default_factory=dict)


def series_means(scores: Sequence[Score], columns: Sequence[str],
                 metric: str = "wape") -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (group, dataset, series): each column's mean `metric` over the origins every column scored."""
    by_series: dict[tuple[str, str, str], list[Score]] = {}
    for s in scores:
        if all(getattr(s, metric).get(c) is not None for c in columns):
            by_series.setdefault((s.group, s.dataset, s.series), []).append(s)
    return {key: {c: float(np.mean([getattr(s, metric)[c] for s in group])) for c in columns}
            for key, group in by_series.items()}


def group_means(scores: Sequence[Score], columns: Sequence[str],
                metric: str = "wape") -> dict[str, tuple[int, dict[str, float]]]:
    """Per group and "overall": (number of series, each column's mean over series of the series' means)."""
    means = series_means(scores, columns, metric)
    rows = {}
    for group in [*GROUPS, "overall"]:
        members = [m for (g, _, _), m in means.items() if group in (g, "overall")]
        if members:
            rows[group] = (len(members), {c: float(np.mean([m[c] for m in members])) for c in columns})
    return rows


def lowest(values: dict[str, float]) -> set[str]:
    """The columns holding the row's lowest value (ties share it)."""
    best = min(values.values())
    return {c for c, v in values.items() if math.isclose(v, best, rel_tol=0, abs_tol=1e-12)}


# ----------------------------------------------------------------------------------------------
# Baseline forecasts (cached) and the pipeline's.

def seasonal_naive_forecast(months: list[date], train: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
    from sop_pipeline.forecasting.metrics import seasonal_naive

    return seasonal_naive(train, horizon)


def _prophet(mode: str) -> Callable[[list[date], np.ndarray, int], np.ndarray]:
    def forecast(months: list[date], train: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
        import pandas as pd
        from prophet import Prophet

        model = Prophet(seasonality_mode=mode, weekly_seasonality=False, daily_seasonality=False,
                        uncertainty_samples=0)
        model.fit(pd.DataFrame({"ds": pd.to_datetime(months), "y": train}))
        future = model.make_future_dataframe(periods=horizon, freq="MS", include_history=False)
        return model.predict(future)["yhat"].to_numpy()
    return forecast


def _statsforecast(model_name: str) -> Callable[[list[date], np.ndarray, int], np.ndarray]:
    def forecast(months: list[date], train: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
        from statsforecast import models

        model = getattr(models, model_name)(season_length=SEASON)
        # On a series barely longer than a season ETS divides by zero degrees of freedom (its variance,
        # not its point forecast): quiet, as statsforecast's own StatsForecast wrapper is not.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(model.forecast(y=np.asarray(train, float), h=horizon)["mean"], float)
    return forecast


FORECASTERS: dict[str, Callable[[list[date], np.ndarray, int], np.ndarray]] = {
    "seasonal_naive": seasonal_naive_forecast,
    "prophet_additive": _prophet("additive"),
    "prophet_multiplicative": _prophet("multiplicative"),
    "auto_ets": _statsforecast("AutoETS"),
    "auto_theta": _statsforecast("AutoTheta"),
    "auto_arima": _statsforecast("AutoARIMA"),
}


def importable(column: str) -> bool:
    library = LIBRARY[column]
    return library is None or importlib.util.find_spec(library) is not None


def load_cache(path: Path) -> dict:
    if path.exists():
        cache = json.loads(path.read_text())
        if cache.get("version") == CACHE_VERSION:
            return cache
    return {"version": CACHE_VERSION, "entries": {}}


def save_cache(path: Path, cache: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(cache, indent=1, sort_keys=True))
    partial.replace(path)


def cache_entry(cache: dict, dataset: str, series: str, origin: date, train: np.ndarray) -> dict:
    """The cached forecasts of one series at one origin; emptied when its training months changed."""
    key = f"{dataset}|{series}|{origin:%Y-%m}"
    digest = hashlib.sha256(json.dumps([round(float(v), 6) for v in train]).encode()).hexdigest()[:16]
    entry = cache["entries"].get(key)
    if entry is None or entry.get("train") != digest:
        entry = cache["entries"][key] = {"train": digest, "forecasts": {}}
    return entry["forecasts"]


def pipeline_settings(assignments: Sequence[str]):
    """ForecastSettings for the pipeline column: horizon 12, 1 worker, cold fits, then `key=value` overrides
    (values parsed as YAML). Raises pydantic's ValidationError for an unknown key or a bad value."""
    from sop_pipeline.config.schema import ForecastSettings

    overrides = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {assignment!r}: write key=value, e.g. --set approach=top_down")
        overrides[key.strip()] = yaml.safe_load(value)
    return ForecastSettings.model_validate({"horizon_months": HORIZON, "workers": 1, "warm_start": False,
                                            **overrides})


def pipeline_forecasts(dataset: Dataset, origin: date, settings) -> dict[str, np.ndarray]:
    """The pipeline's published family forecasts for the data set's horizon from `origin`.

    A competition data set's series are families that are their own only SKU, forecast top_down:
    each publishes its own fit, as a line forecast alone would (the total of unrelated series, and
    approaches that mix it in, would be an artefact of running them as one forecast)."""
    from sop_pipeline.forecasting import forecast_demand

    if dataset.test_months:
        settings = settings.model_copy(update={"horizon_months": dataset.horizon, "approach": "top_down"})
    result = forecast_demand(pipeline_history(dataset.sales, origin), settings, origin)
    family = (result.forecast.filter((pl.col("level") == "family") & (pl.col("month") >= origin)
                                     & (pl.col("month") < add_months(origin, dataset.horizon)))
              .sort("series_key", "month"))
    return {key: frame["yhat"].to_numpy() for (key,), frame in family.group_by("series_key", maintain_order=True)}


# ----------------------------------------------------------------------------------------------
# The run.

@dataclass
class Tally:
    baselines: float = 0.0
    baseline_fits: int = 0
    baselines_cached: int = 0
    pipeline: float = 0.0
    pipeline_calls: int = 0
    pipeline_unforecast: list[str] = field(default_factory=list)  # series/origins the pipeline published no row for


def score_dataset(dataset: Dataset, origins: list[date], settings, cache: dict, tally: Tally) -> list[Score]:
    months = pl.date_range(dataset.first_month, dataset.last_month, "1mo", eager=True).to_list()
    series = family_series(dataset)
    scores = []
    for origin in origins:
        n_train = months_between(dataset.first_month, origin)
        started = time.perf_counter()
        pipeline = pipeline_forecasts(dataset, origin, settings) if settings is not None else {}
        tally.pipeline += time.perf_counter() - started
        tally.pipeline_calls += settings is not None
        started = time.perf_counter()
        h = dataset.horizon
        firsts = dataset.sales.group_by("family").agg(pl.col("month").min())
        first_index = {f: months_between(dataset.first_month, m) for f, m in firsts.iter_rows()}
        for family, units in series.items():
            train, actual = units[:n_train], units[n_train:n_train + h]
            started_at = first_index.get(family, 0) if dataset.test_months else 0
            train = train[started_at:]  # a competition series starts at its own first month, not the data set's
            cached = cache_entry(cache, dataset.name, dataset.label(family), origin, train)
            if family not in pipeline and settings is not None:  # no sales before the origin: the pipeline plans none
                tally.pipeline_unforecast.append(f"{dataset.label(family)} {origin:%Y-%m}")
            forecasts = {PIPELINE: pipeline.get(family, np.zeros(h)) if settings is not None else None}
            for column in BASELINES:
                if column not in cached and importable(column):
                    cached[column] = [float(v) for v in FORECASTERS[column](months[started_at:n_train], train, h)]
                    tally.baseline_fits += 1
                else:
                    tally.baselines_cached += column in cached
                forecasts[column] = cached.get(column)
            scores.append(Score(dataset.group, dataset.name, dataset.label(family), origin, len(train),
                                float(actual.sum()),
                                {c: None if f is None else floored_wape(actual, np.asarray(f)) for c, f in
                                 forecasts.items()},
                                {c: None if f is None else floored_smape(actual, np.asarray(f)) for c, f in
                                 forecasts.items()},
                                {c: None if f is None else floored_mase(actual, np.asarray(f), train) for c, f in
                                 forecasts.items()}))
        tally.baselines += time.perf_counter() - started
        print(f"  {dataset.name} {origin:%Y-%m}: {len(series)} series, {n_train} months of history "
              f"(pipeline {tally.pipeline:.0f} s, baselines {tally.baselines:.0f} s so far)", flush=True)
    return scores


def complete_columns(scores: Sequence[Score]) -> tuple[list[str], list[str]]:
    """(columns with a forecast for every series/origin, notes on the others)."""
    shown, notes = [], []
    for column in COLUMNS:
        missing = sum(s.wape.get(column) is None and s.actual_sum != 0 for s in scores)
        if missing:
            why = ("" if column not in LIBRARY or importable(column)  # the pipeline: not run with --baselines-only
                   else f" ({LIBRARY[column]} is not importable here; pip install -e '.[bench]')")
            notes.append(f"{column}: left out, {missing} of {len(scores)} series/origins without a forecast{why}")
        else:
            shown.append(column)
    return shown, notes


def table_text(rows: dict[str, tuple[int, dict[str, float]]], columns: Sequence[str]) -> str:
    """Mean WAPE per group and column, the lowest of each row marked with *."""
    width = {c: max(8, len(c)) + 2 for c in columns}
    lines = [f"{'group':<12}{'series':>7}" + "".join(f"{c:>{width[c]}} " for c in columns)]
    for group, (n_series, values) in rows.items():
        marked = lowest(values)
        cells = "".join(f"{f'{values[c]:.4f}' + ('*' if c in marked else ' '):>{width[c] + 1}}" for c in columns)
        lines.append(f"{group:<12}{n_series:>7}{cells}")
    return "\n".join(lines)


def write_csv(path: Path, scores: Sequence[Score], columns: Sequence[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "dataset", "series", "origin", "train_months", "actual_sum", *columns,
                         *(f"{metric}_{c}" for metric in METRICS[1:] for c in columns)])
        for s in scores:
            values = [getattr(s, metric).get(c) for metric in METRICS for c in columns]
            writer.writerow([s.group, s.dataset, s.series, f"{s.origin:%Y-%m}", s.train_months, s.actual_sum,
                             *("" if v is None else f"{v:.6f}" for v in values)])


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, object]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--origins", type=int, default=3, help="rolling origins per series (default 3)")
    parser.add_argument("--step", type=int, default=3, help="months between origins (default 3)")
    parser.add_argument("--only", action="append", choices=GROUPS, help="run this group only (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a ForecastSettings override for the pipeline column, value in YAML (repeatable)")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"baseline forecasts (default {CACHE.relative_to(ROOT)})")
    parser.add_argument("--csv", type=Path, help="write every series/origin WAPE here")
    parser.add_argument("--baselines-only", action="store_true",
                        help="fill the baseline cache only (no pipeline column), e.g. in the bench venv")
    parser.add_argument("--sample", type=int, default=1, metavar="N",
                        help="every N-th series of the competitions only (development runs; default all)")
    parser.add_argument("--sample-offset", type=int, default=0, metavar="K",
                        help="the sample's first series (0-based, below N): a confirmation sample that shares "
                             "no series with the development one (default 0)")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    args = parser.parse_args(argv)
    if args.origins < 1 or args.step < 1 or args.sample < 1:
        parser.error("--origins, --step and --sample must be at least 1")
    if not 0 <= args.sample_offset < args.sample:
        parser.error("--sample-offset must be at least 0 and below --sample")
    global SAMPLE
    SAMPLE = (args.sample, args.sample_offset)
    from pydantic import ValidationError

    try:
        settings = pipeline_settings(args.set)
    except ValidationError as exc:
        parser.error(f"--set: {exc}")
    except ValueError as exc:
        parser.error(str(exc))
    return args, settings


def main(argv: Sequence[str] | None = None) -> None:
    args, settings = parse_args(argv)
    if args.baselines_only:
        settings = None
    import logging

    from sop_pipeline.forecasting.fitting import quiet_stan

    quiet_stan()
    # A filter, not a level: the pipeline's fit workers set the level back to WARNING.
    logging.getLogger("prophet").addFilter(lambda record: record.levelno >= logging.ERROR)
    overrides = " ".join(args.set) or "none"
    print(f"pipeline settings: horizon 12, workers 1, warm_start false; overrides: {overrides}")
    print(f"origins: {args.origins}, {args.step} months apart, the last 12 months before the end of the data")

    cache = load_cache(args.cache)
    for library in sorted({LIBRARY[c] for c in BASELINES if not importable(c)}):
        names = ", ".join(c for c in BASELINES if LIBRARY[c] == library)
        print(f"note: {library} is not importable here: {names} only from the cache {args.cache}")
    tally, scores, used = Tally(), [], {}
    started = time.perf_counter()
    for group in args.only or GROUPS:
        for dataset in READERS[group](args.data):
            if dataset.test_months:  # a competition: one origin, the first test month
                origins, skipped = [add_months(dataset.last_month, 1 - dataset.test_months)], []
            else:
                origins, skipped = rolling_origins(dataset.first_month, dataset.last_month, args.origins, args.step)
            span = f"{dataset.first_month:%Y-%m}..{dataset.last_month:%Y-%m}"
            print(f"{dataset.name}: {len(dataset.families)} series, {span}, origins "
                  f"{', '.join(f'{o:%Y-%m}' for o in origins) or 'none'}", flush=True)
            for note in dataset.notes:
                print(f"  note: {note}")
            for origin in skipped:
                print(f"  skipped origin {origin:%Y-%m}: {months_between(dataset.first_month, origin)} months "
                      f"of history, fewer than {MIN_TRAIN_MONTHS}")
            used[dataset.name] = (dataset.group, len(dataset.families), origins)
            scores += score_dataset(dataset, origins, settings, cache, tally)
            save_cache(args.cache, cache)
    total = time.perf_counter() - started

    shown, notes = complete_columns(scores)
    unscored = sum(any(s.wape.get(c) is None for c in shown) for s in scores)
    rows = group_means(scores, shown)
    print()
    for name, (group, n_series, origins) in used.items():
        print(f"{group:<11} {name:<26} {n_series:>3} series x {len(origins)} origins "
              f"({', '.join(f'{o:%Y-%m}' for o in origins)})")
    print(f"series/origins scored: {len(scores) - unscored} of {len(scores)}"
          + (f" ({unscored} left out: actuals sum to zero)" if unscored else ""))
    for note in notes:
        print(f"note: {note}")
    if tally.pipeline_unforecast:
        print(f"note: no pipeline forecast (scored as zero) for {', '.join(tally.pipeline_unforecast)}")
    for metric in METRICS:
        print(f"\nmean {metric.upper()} (12 months from each origin; competitions: their test months; mean over "
              f"origins per series, then over series; * = lowest of the row)")
        print(table_text(group_means(scores, shown, metric) if metric != "wape" else rows, shown))
    for group, (_n, values) in rows.items():
        if group == "overall":
            continue
        rivals = [c for c in ("auto_ets", "auto_theta", "auto_arima") if c in values]
        if rivals and PIPELINE in values:
            best = min(rivals, key=values.get)
            verdict = "beats" if values[PIPELINE] < values[best] else "does NOT beat"
            print(f"{group}: pipeline {values[PIPELINE]:.4f} {verdict} the best of {', '.join(rivals)} "
                  f"({best} {values[best]:.4f})")
    if "overall" in rows and PIPELINE in shown:
        values = rows["overall"][1]
        rival = min((c for c in shown if c != PIPELINE), key=values.get, default=None)
        met = PIPELINE in lowest(values) and rival is not None
        versus = f"pipeline {values[PIPELINE]:.4f}" + (f", best other {rival} {values[rival]:.4f}" if rival else "")
        print(f"\ntarget (pipeline's overall mean WAPE the lowest of all {len(shown)} columns): "
              f"{'MET' if met else 'NOT MET'} ({versus})")
    print(f"\nwall time: pipeline {tally.pipeline:.1f} s ({tally.pipeline_calls} forecast_demand calls), "
          f"baselines {tally.baselines:.1f} s ({tally.baseline_fits} forecasts computed, "
          f"{tally.baselines_cached} from the cache), whole run {total:.1f} s")
    if args.csv:
        write_csv(args.csv, scores, COLUMNS)
        print(f"per series and origin: {args.csv}")


if __name__ == "__main__":
    main()
