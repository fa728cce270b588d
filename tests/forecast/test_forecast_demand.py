"""forecast_demand on small synthetic histories: coherence, schema, degenerate series, errors."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from benchmarks.synthetic import synthetic_history
from sop_pipeline.common.errors import InputDataError, SettingsError
from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting import forecast_demand, plot_forecast_png
from sop_pipeline.forecasting.backtest import RUN_BEST, backtest_cuts, keeps_incumbent, lowest
from sop_pipeline.forecasting.models import model_configs
from tests.support.pipeline_tasks import members_of, pipeline_tasks

CYCLE = date(2026, 1, 1)
HORIZON = 6


def months_back(n: int, end: date = date(2025, 12, 1)) -> list[date]:
    """The n months ending at `end`, oldest first."""
    number = end.year * 12 + end.month - 1
    return [date((number - i) // 12, (number - i) % 12 + 1, 1) for i in range(n - 1, -1, -1)]


def rows(family: str, sku: str, units: list[float], end: date = date(2025, 12, 1)) -> pl.DataFrame:
    return pl.DataFrame({"family": family, "sku": sku, "month": months_back(len(units), end),
                         "units": [float(u) for u in units], "revenue": [float(u) * 3 for u in units]})


def no_missing_values(fc: pl.DataFrame) -> bool:
    """Nulls only where the level says so (family on the total, sku above SKU level)."""
    values = fc.select("level", "series_key", "month", "method", "yhat", "yhat_lower", "yhat_upper")
    return (values.null_count().sum_horizontal().item() == 0
            and fc.filter(pl.col("level") != "total")["family"].null_count() == 0
            and fc.filter(pl.col("level") == "sku")["sku"].null_count() == 0)


def settings(**overrides) -> ForecastSettings:
    base = dict(horizon_months=HORIZON, backtest_months=6, workers=1, min_history_months=24,
                min_nonzero_months=12)
    return ForecastSettings(**{**base, **overrides})


@pytest.fixture(scope="module", params=["best", "bottom_up"])
def synthetic_result(request):
    history = synthetic_history(n_skus=6, n_months=36, n_families=2, seed=3)
    return history, forecast_demand(history, settings(approach=request.param), CYCLE), request.param


def test_forecast_is_coherent_and_complete(synthetic_result):
    history, result, approach = synthetic_result
    fc = result.forecast
    assert no_missing_values(fc)
    assert np.isfinite(fc.select("yhat", "yhat_lower", "yhat_upper").to_numpy()).all()
    expected_months = months_back(HORIZON, date(2026, 6, 1))
    for level, n_series in (("total", 1), ("family", 2), ("sku", 6)):
        part = fc.filter(pl.col("level") == level)
        assert part.height == n_series * HORIZON
        assert sorted(set(part["month"].to_list())) == expected_months

    skus = fc.filter(pl.col("level") == "sku").group_by("family", "month").agg(pl.col("yhat").sum().alias("s"))
    fams = fc.filter(pl.col("level") == "family").join(skus, on=["family", "month"])
    assert (fams["yhat"] - fams["s"]).abs().max() < 1e-6
    fam_sum = fc.filter(pl.col("level") == "family").group_by("month").agg(pl.col("yhat").sum().alias("s"))
    total = fc.filter(pl.col("level") == "total").join(fam_sum, on="month")
    assert (total["yhat"] - total["s"]).abs().max() < 1e-6

    assert (fc["yhat_lower"] >= 0).all()
    assert (fc["yhat_lower"] <= fc["yhat"] + 1e-12).all() and (fc["yhat"] <= fc["yhat_upper"] + 1e-12).all()
    # A real band around fitted series, not a zero-width one.
    assert (fc.filter(pl.col("level") == "family")["yhat_upper"]
            > fc.filter(pl.col("level") == "family")["yhat_lower"]).all()

    assert set(result.approach_by_family) == {"F00", "F01"}
    if approach == "bottom_up":
        assert set(result.approach_by_family.values()) == {"bottom_up"}
        assert set(fc.filter(pl.col("level") == "sku")["method"]) == {"prophet_bottom_up"}
    published = {r["family"]: r["method"] for r in fc.filter(pl.col("level") == "family").iter_rows(named=True)}
    assert all(published[f] == f"prophet_{a}" for f, a in result.approach_by_family.items())


def test_accuracy_table_covers_levels_and_methods(synthetic_result):
    history, result, approach = synthetic_result
    acc = result.accuracy
    for level in ("total", "family", "sku"):
        methods = set(acc.filter(pl.col("level") == level)["method"])
        assert {"top_down", "bottom_up", "seasonal_naive", "chosen"} <= methods
    # Three rolling origins 3 months apart, each scored on the 6 months after it.
    assert backtest_cuts(36, settings()) == [(24, 6), (27, 6), (30, 6)]
    assert (acc.filter(pl.col("level") != "sku")["n_points"] == 18).all()
    # A SKU is fitted from min_history_months (24) of history: at every origin here, the oldest training on 24.
    assert (acc.filter(pl.col("level") == "sku")["n_points"] == 3 * 6).all()
    # The chosen row repeats the chosen approach's score for each family.
    fam = acc.filter(pl.col("level") == "family")
    for family, chosen in result.approach_by_family.items():
        pick = fam.filter((pl.col("series_key") == family) & pl.col("method").is_in(["chosen", chosen]))
        assert pick["wape"].n_unique() == 1
    if approach == "best":
        for family, chosen in result.approach_by_family.items():
            scores = {r["method"]: r["wape"] for r in fam.filter(pl.col("series_key") == family).iter_rows(named=True)}
            assert scores[chosen] <= min(scores[a] for a in ("top_down", "bottom_up", "from_total", "reconciled"))
    # Every series records the Prophet configuration the backtest chose for it, or the combination.
    assert acc.filter(pl.col("method") == "chosen")["model"].null_count() == 0
    names = {c.name for c in model_configs(settings())}
    for model in set(acc["model"].drop_nulls()):
        members = members_of(model)
        assert set(members) <= names and len(set(members)) == len(members), model


def test_seasonal_naive_score_matches_hand_computation(synthetic_result):
    history, result, _ = synthetic_result
    family = history.filter(pl.col("family") == "F00").group_by("month").agg(pl.col("units").sum()).sort("month")
    y = family["units"].to_numpy()
    actual, naive = [], []
    for cut in (24, 27, 30):  # the three origins, each scored on its next 6 months
        actual.append(y[cut:cut + 6])
        naive.append(y[cut - 12:cut - 6])  # the same months one year earlier
    actual, naive = np.concatenate(actual), np.concatenate(naive)
    train = y[:30]  # MASE is scaled on the latest origin's training months
    row = result.accuracy.filter((pl.col("series_key") == "F00") & (pl.col("method") == "seasonal_naive")).row(0, named=True)
    assert row["wape"] == pytest.approx(np.abs(naive - actual).sum() / actual.sum())
    assert row["bias"] == pytest.approx((naive - actual).sum() / actual.sum())
    assert row["mase"] == pytest.approx(np.abs(naive - actual).mean() / np.abs(train[12:] - train[:-12]).mean())


def test_params_are_returned_for_warm_start(synthetic_result):
    history, result, result_approach = synthetic_result
    params = result.params
    assert {"series_id", "stage", "n_changepoints", "params_json"} <= set(params.columns)
    assert set(params["stage"]) == {"final"}
    # The published fits: 1 total + 2 families + 6 SKUs, each in its configuration or in each member
    # of its combination (the model column of sop.forecast names them): its own best 3 and the run's best.
    assert params["series_id"].n_unique() == 9 and 9 <= params.height <= 9 * (3 + RUN_BEST)
    published = dict(zip(result.accuracy.filter(pl.col("method") == "chosen")
                         .select(pl.concat_str([pl.col("level"), pl.lit("|"), pl.col("series_key")]))
                         .to_series(), result.accuracy.filter(pl.col("method") == "chosen")["model"]))
    for series_id, frame in params.group_by("series_id"):
        model = published.get(series_id[0])
        if model is not None:
            members = members_of(model)
            assert sorted(frame["model"]) == sorted(members), (series_id, model)
    # No race by default (backtest_finalists 0): every configuration that is a model of its own (as the
    # collector builds them) at every origin, a damped one counted as a result of its own (its solve shared).
    backtest_fits = result.stats["series_fitted"] - params.height
    _, origins = pipeline_tasks(history, settings(approach=result_approach), CYCLE)
    assert settings().backtest_finalists == 0
    assert backtest_fits == sum(len(tasks) for tasks in origins)
    assert "family|F00" in params["series_id"].to_list()
    assert params["model"].null_count() == 0


def test_degenerate_series_do_not_crash():
    regular = [100 + 20 * np.sin(i / 12 * 2 * np.pi) + (i % 5) for i in range(36)]
    history = pl.concat([
        rows("A", "a_regular", regular),
        rows("A", "a_new", [10.0, 14.0]),                                    # launched 2 months ago
        rows("A", "a_dead", [30.0] * 10, end=date(2024, 12, 1)),             # last sale a year ago
        rows("A", "a_zero", [0.0] * 20),                                     # rows, but never sold
        rows("B", "b_one_month", [7.0]),                                     # whole family: 1 month
        rows("C", "c_zero", [0.0] * 5),                                      # family that never sold
    ])
    result = forecast_demand(history, settings(approach="best"), CYCLE)
    fc = result.forecast
    assert no_missing_values(fc)
    assert np.isfinite(fc.select("yhat", "yhat_lower", "yhat_upper").to_numpy()).all()
    assert fc.filter(pl.col("level") == "sku").height == 6 * HORIZON
    sku = {k: g for (k,), g in fc.filter(pl.col("level") == "sku").group_by("series_key")}
    assert (sku["a_new"]["yhat"] > 0).all()                       # a share, not zero
    assert set(sku["a_new"]["method"]) <= {"family_share", "prophet_top_down"}
    for dead in ("a_dead", "a_zero", "c_zero"):
        assert (sku[dead]["yhat"] == 0).all() and set(sku[dead]["method"]) == {"inactive"}
    assert sku["b_one_month"]["yhat"].to_list() == pytest.approx([7.0] * HORIZON)
    fam = {k: g for (k,), g in fc.filter(pl.col("level") == "family").group_by("series_key")}
    assert set(fam["B"]["method"]) == {"recent_mean"}
    assert set(fam["C"]["method"]) == {"inactive"} and (fam["C"]["yhat"] == 0).all()
    assert result.stats["series_fitted"] >= 2  # family A and the total at least


def test_a_single_month_of_history():
    # Datetime months and integer units are accepted as well as dates and floats.
    history = rows("A", "a1", [5.0]).with_columns(pl.col("month").cast(pl.Datetime), pl.col("units").cast(pl.Int64))
    result = forecast_demand(history, settings(), CYCLE)
    assert result.forecast.filter(pl.col("level") == "sku")["yhat"].to_list() == pytest.approx([5.0] * HORIZON)
    # Nothing to hold out: the family and the total each get a not_backtested row saying why, with no scores.
    accuracy = result.accuracy
    assert sorted(accuracy["level"]) == ["family", "total"] and set(accuracy["method"]) == {"not_backtested"}
    assert accuracy["wape"].is_null().all() and accuracy["note"].str.contains("1 month\\(s\\) of history").all()
    assert result.approach_by_family == {"A": "top_down"}


def test_gap_between_history_and_cycle_is_skipped():
    history = rows("A", "a1", [5.0, 6.0, 7.0], end=date(2025, 9, 1))
    fc = forecast_demand(history, settings(), CYCLE).forecast
    assert fc["month"].min() == CYCLE and fc["month"].n_unique() == HORIZON


def test_bad_input_is_explained():
    with pytest.raises(InputDataError, match="units"):
        forecast_demand(rows("A", "a1", [1.0, 2.0]).drop("units"), settings(), CYCLE)
    with pytest.raises(InputDataError, match="plan cycle"):
        forecast_demand(rows("A", "a1", [1.0, 2.0]), settings(), date(2025, 12, 1))
    with pytest.raises(InputDataError, match="more than one family"):
        forecast_demand(pl.concat([rows("A", "x", [1.0]), rows("B", "x", [1.0], end=date(2025, 11, 1))]),
                        settings(), CYCLE)
    with pytest.raises(InputDataError, match="first day of a month"):
        forecast_demand(rows("A", "a1", [1.0]).with_columns(pl.lit(date(2025, 12, 15)).alias("month")),
                        settings(), CYCLE)
    with pytest.raises(SettingsError, match="dask_address"):
        forecast_demand(rows("A", "a1", [1.0, 2.0, 3.0, 4.0]), settings(executor="dask"), CYCLE)


def test_plot_is_a_png(synthetic_result):
    history, result, _ = synthetic_result
    png = plot_forecast_png(history, result.forecast, ["F00", "F01"])
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_a_series_keeps_last_cycles_model_unless_another_is_clearly_better():
    names = ["a", "b", "c"]
    assert lowest({"a": 0.30, "b": 0.20, "c": 0.25}, names) == "b"
    assert lowest({"a": 0.20, "b": 0.20, "c": 0.25}, names) == "a"        # ties: the first
    assert lowest({"a": None, "b": None, "c": None}, names) == "a"        # nothing scored
    assert keeps_incumbent(0.205, 0.20)                                   # within 5%: kept
    assert not keeps_incumbent(0.22, 0.20)                                # 10% worse: switched
    assert not keeps_incumbent(None, 0.20)                                # no longer a candidate


def test_models_setting_is_checked():
    with pytest.raises(ValueError, match="used twice"):
        ForecastSettings(models=[{"name": "a"}, {"name": "a", "seasonality_mode": "multiplicative"}])
    with pytest.raises(ValueError, match="at least one model"):
        ForecastSettings(models=[])
    with pytest.raises(ValueError):
        ForecastSettings(models=[{"name": "a", "trend": "up"}])  # unknown key: a typo is an error
    named = model_configs(ForecastSettings(models=[{"name": "mine", "seasonality_mode": "multiplicative"}]))
    assert [(c.name, c.seasonality_mode) for c in named] == [("mine", "multiplicative")]
