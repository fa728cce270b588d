"""The published frames: the forecast (coherent across levels, with bands), accuracy and parameters.

Coherence: a family's number is the sum of its SKU numbers and the total the sum of the families,
whatever the approach.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import polars as pl

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.approaches import ApproachNumbers
from sop_pipeline.forecasting.bands import band_half_width
from sop_pipeline.forecasting.classification import TOTAL, PreparedView, series_id_of
from sop_pipeline.forecasting.fitting import FitResult

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




def publish_forecast(prep: PreparedView, nums: ApproachNumbers, choice: dict[str, str], model_of: Callable[[str], str],
             band: dict[str, tuple[float, float]], settings: ForecastSettings, horizon: slice) -> pl.DataFrame:
    view = prep.view
    steps = len(prep.future)
    z = NormalDist().inv_cdf((1 + settings.interval_width) / 2)

    def half(level: str, key: str, result: FitResult) -> np.ndarray:
        return band_half_width(result, band.get(series_id_of(level, key)), steps, z)

    fam_half = np.vstack([half("family", name, r) for name, r in zip(view.families, nums.fam_fit)])
    fam_model = [model_of(series_id_of("family", name)) for name in view.families]
    total_model = fam_model[0] if prep.single_family else model_of(series_id_of(TOTAL, TOTAL))
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
            sku_model[i] = model_of(series_id_of("sku", view.sku[i]))
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
