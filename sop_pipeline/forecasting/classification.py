"""The series of one view (the full history, or a backtest origin's training part) and their fit tasks.

- Series: the total, every family, and every SKU with enough history (`min_history_months` months
  since its first sale, `min_nonzero_months` selling months) that sold in the last
  `inactive_after_months` months (a family's only SKU is the family's own series). Each is a
  Prophet fit on month-start buckets in every configuration of `forecast.models` (`models.py`).
- SKUs with no sales in the last `inactive_after_months` months get zero ("inactive").
- A SKU's share is its average monthly units over the last `share_months` months *while it existed*,
  relative to the other active SKUs of its family (a family's share of the total likewise), so a
  SKU launched three months ago gets its run rate, not a quarter of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from sop_pipeline.common.months import month_array
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.fitting import FitTask, ProphetConfig

TOTAL = "total"


@dataclass
class HistoryView:
    """SKU x month matrix of units: NaN before a SKU's first sale, zero after its last."""

    first_month: int          # month number of column 0
    units: np.ndarray         # (n_sku, n_month)
    sku: np.ndarray           # str
    family: np.ndarray        # str, per SKU
    families: list[str]

    @property
    def n_months(self) -> int:
        return self.units.shape[1]

    def truncated(self, n_months: int) -> HistoryView:
        keep = ~np.isnan(self.units[:, :n_months]).all(axis=1)
        fam = self.family[keep]
        return HistoryView(self.first_month, self.units[keep, :n_months], self.sku[keep], fam,
                     sorted(set(fam.tolist())))



def build_view(history: pl.DataFrame) -> HistoryView:
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
    return HistoryView(first, units, skus["sku"].to_numpy().astype(str), family, sorted(set(family.tolist())))



@dataclass
class PreparedView:
    view: HistoryView
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


def series_id_of(level: str, key: str) -> str:
    return f"{level}|{key}"


def task_key(stage: str, series_id: str, model: str) -> str:
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


def prepare(view: HistoryView, settings: ForecastSettings, stage: str, n_future: int,
             configs_for: Callable[[str], list[ProphetConfig]], warm: dict[tuple[str, str], dict]) -> PreparedView:
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
    prep = PreparedView(view, stage, future, fam_of, fam_start, [fam_units[f, fam_start[f]:] for f in range(n_fam)],
                 units0.sum(axis=0), active, fitted, share, fam_share)

    def add(level: str, key: str, start: int, y: np.ndarray) -> None:
        series_id = series_id_of(level, key)
        init = warm.get((series_id, stage))
        seen: dict[tuple, str] = {}
        for config in configs_for(series_id):
            # A training window keeps the most recent months; on a history no longer than the window it
            # is not a candidate (it would be the whole-history model with another changepoint range).
            if config.window_months is not None and len(y) - start <= config.window_months:
                continue
            begin = start if config.window_months is None else len(y) - config.window_months
            n = len(y) - begin
            same_model = (config.seasonality_mode, config.changepoint_prior_scale, config.seasonality_prior_scale,
                          config.growth, config.yearly_order(n), config.month_effects(n), config.changepoint_range,
                          config.log_scale(y[begin:]), begin, config.damping if config.growth != "flat" else None,
                          config.level_months)
            if same_model in seen:  # e.g. a month-effects model on a long history is an earlier one
                prep.same_as[(series_id, config.name)] = seen[same_model]
                continue
            seen[same_model] = config.name
            if init is not None and "members" in init:  # last cycle's fit of this very configuration, if any
                use = init["members"].get(config.name)
            else:
                use = init if init is not None and init.get("model", config.name) == config.name else None
            prep.tasks.append(FitTask(key=task_key(stage, series_id, config.name), series_id=series_id,
                                      stage=stage, months=months[begin:], y=y[begin:], future=future,
                                      init=use, config=config, keep_params=stage == "final"))

    if not prep.single_family:  # one family: the total is that family's series
        add(TOTAL, TOTAL, 0, prep.total_y)
    for f, name in enumerate(view.families):
        add("family", name, fam_start[f], fam_units[f])
    for i in np.flatnonzero(fitted):
        add("sku", view.sku[i], int(np.argmax(present[i])), units0[i])
    return prep
