"""The accuracy bench's arithmetic (benchmarks/accuracy_bench.py): origins, whole months, inputs, WAPE, means.

Tiny made-up series with answers worked out by hand; no Prophet fit, no shared data.
"""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from benchmarks.accuracy_bench import (
    Score,
    decimal_year_month,
    floored_wape,
    group_means,
    lowest,
    monthly_dataset,
    parse_args,
    pipeline_history,
    pipeline_settings,
    read_competition,
    rolling_origins,
    table_text,
    whole_month_range,
)


def test_origins_step_back_from_twelve_months_before_the_end():
    # 36 months, 2020-01..2022-12: the last origin leaves 2022-01..2022-12 to forecast.
    kept, skipped = rolling_origins(date(2020, 1, 1), date(2022, 12, 1), count=3, step=3)
    assert kept == [date(2021, 7, 1), date(2021, 10, 1), date(2022, 1, 1)] and skipped == []
    # Every 6 months: 2021-01 has exactly 12 months before it (kept), 2020-07 six and 2020-01 none.
    kept, skipped = rolling_origins(date(2020, 1, 1), date(2022, 12, 1), count=5, step=6)
    assert kept == [date(2021, 1, 1), date(2021, 7, 1), date(2022, 1, 1)]
    assert skipped == [date(2020, 1, 1), date(2020, 7, 1)]


def test_partial_edge_months_are_dropped_quiet_days_are_not():
    fridays = [date(2010, 2, 5) + timedelta(weeks=k) for k in range(143)]  # Walmart: 2010-02-05..2012-10-26
    assert fridays[-1] == date(2012, 10, 26)
    assert whole_month_range(fridays) == (date(2010, 2, 1), date(2012, 10, 1))  # no week of Oct is missing
    days = [date(2021, 1, 1) + timedelta(days=k) for k in range(0, 140, 2)]  # every other day, to 2021-05-19
    assert days[-1] == date(2021, 5, 19)
    assert whole_month_range(days) == (date(2021, 1, 1), date(2021, 4, 1))  # 12 days of May missing
    # A record on May 30: May counts, its quiet stretch (May 20..29) lies inside the data.
    assert whole_month_range([*days, date(2021, 5, 30)]) == (date(2021, 1, 1), date(2021, 5, 1))
    assert whole_month_range([date(2021, 1, 3), *days[2:]]) == (date(2021, 2, 1), date(2021, 4, 1))
    records = pl.DataFrame({"family": "F", "sku": "a", "day": days, "units": 1.0})  # 70 records of 1 unit
    dataset = monthly_dataset("d", "singles", records)
    assert (dataset.first_month, dataset.last_month) == (date(2021, 1, 1), date(2021, 4, 1))
    assert dataset.sales["units"].to_list() == [16.0, 14.0, 15.0, 15.0]  # Jan 1..31, Feb 2..28, Mar 2..30, Apr 1..29
    assert "partial month(s) 2021-05 dropped" in dataset.notes[0]
    months = [date(1949 + k // 12, k % 12 + 1, 1) for k in range(144)]  # monthly records, first of the month
    assert whole_month_range(months) == (date(1949, 1, 1), date(1960, 12, 1))


def test_decimal_years_are_months():
    frame = pl.DataFrame({"time": [1980.0, 1980.08333333333, 1994.58333333333, 1994.9166667]})
    assert frame.select(decimal_year_month("time").alias("month"))["month"].to_list() == [
        date(1980, 1, 1), date(1980, 2, 1), date(1994, 8, 1), date(1994, 12, 1)]


def test_pipeline_history_zero_fills_between_sales_and_stops_before_the_origin():
    sales = pl.DataFrame({
        "family": ["F", "F", "F", "G"], "sku": ["a", "a", "a", "b"],
        "month": [date(2021, 1, 1), date(2021, 4, 1), date(2021, 7, 1), date(2021, 2, 1)],
        "units": [5.0, 2.0, 9.0, 1.0],
    })
    history = pipeline_history(sales, date(2021, 6, 1))
    assert history.rows() == [
        ("F", "a", date(2021, 1, 1), 5.0), ("F", "a", date(2021, 2, 1), 0.0), ("F", "a", date(2021, 3, 1), 0.0),
        ("F", "a", date(2021, 4, 1), 2.0), ("G", "b", date(2021, 2, 1), 1.0)]


def test_wape_floors_forecasts_at_zero_and_pools_the_months():
    actual = np.array([10.0, 0.0, 30.0])
    # |12-10| + |0-0| (the -5 floored) + |20-30| = 12, over 40 actual units.
    assert floored_wape(actual, np.array([12.0, -5.0, 20.0])) == pytest.approx(12 / 40)
    assert floored_wape(np.zeros(3), np.ones(3)) is None


def _score(group, series, origin, pipeline, naive):
    return Score(group, group, series, date(2020, origin, 1), 24, 100.0, {"pipeline": pipeline, "naive": naive})


def test_means_over_origins_then_series_and_the_lowest_marked():
    scores = [
        _score("singles", "x", 1, 0.10, 0.20), _score("singles", "x", 4, 0.30, 0.20),  # x: 0.20 and 0.20
        _score("superstore", "a", 1, 0.40, 0.30),                                      # a: 0.40 and 0.30
        _score("superstore", "b", 1, 0.60, 0.90), _score("superstore", "b", 4, None, 0.50),  # b: 0.60, 0.90
    ]
    rows = group_means(scores, ["pipeline", "naive"])
    assert rows["singles"] == (1, {"pipeline": pytest.approx(0.20), "naive": pytest.approx(0.20)})
    assert rows["superstore"] == (2, {"pipeline": pytest.approx(0.50), "naive": pytest.approx(0.60)})
    assert rows["overall"] == (3, {"pipeline": pytest.approx(0.40), "naive": pytest.approx(1.4 / 3)})
    assert "walmart" not in rows
    assert lowest(rows["singles"][1]) == {"pipeline", "naive"} and lowest(rows["overall"][1]) == {"pipeline"}
    text = table_text(rows, ["pipeline", "naive"])
    assert "0.4000*" in text.splitlines()[-1] and "0.4667 " in text.splitlines()[-1]


def test_settings_overrides_are_yaml_and_unknown_keys_fail():
    settings = pipeline_settings(["approach=top_down", "changepoint_prior_scale=0.5", "workers=2"])
    assert (settings.approach, settings.changepoint_prior_scale, settings.workers) == ("top_down", 0.5, 2)
    assert (settings.horizon_months, settings.warm_start) == (12, False)
    with pytest.raises(ValidationError, match="no_such_key"):
        pipeline_settings(["no_such_key=1"])
    with pytest.raises(ValueError, match="key=value"):
        pipeline_settings(["approach"])


def test_samples_of_one_step_and_other_offsets_share_no_series(tmp_path):
    rows = [{"series": f"m1|x|{i}", "t": t, "value": float(i + t), "split": "train" if t < 4 else "test"}
            for i in range(10) for t in range(1, 6)]
    pl.DataFrame(rows).write_csv(tmp_path / "competition_monthly.csv")

    def names(every, offset):
        return {f for d in read_competition(tmp_path, "m1", every, offset) for f in d.families}

    assert names(3, 0) == {"m1|x|0", "m1|x|3", "m1|x|6", "m1|x|9"}
    assert names(3, 1) == {"m1|x|1", "m1|x|4", "m1|x|7"}
    assert names(3, 0) | names(3, 1) | names(3, 2) == names(1, 0)
    with pytest.raises(SystemExit):
        parse_args(["--sample", "3", "--sample-offset", "3"])
