"""The run's ranking of configurations (`backtest.run_ranking`) and its best joining each series'
combination (`backtest.choose_from_pools`), on constructed pools whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np

from sop_pipeline.forecasting.backtest import RUN_BEST, _Pool, choose_from_pools, run_ranking

NAMES = ["a", "b", "c", "d", "e", "f"]


def test_the_run_ranks_by_the_mean_paired_difference_to_the_default():
    """w is scored on s1 only: paired with the default there (0.15 - 0.2 = -0.05) it ranks behind b
    (-0.1 and -0.05: mean -0.075), though its own mean WAPE (0.15) is the lowest of all; a series
    without the default's score says nothing."""
    scores = {"s1": {"a": 0.2, "b": 0.1, "w": 0.15}, "s2": {"a": 0.5, "b": 0.45}, "s3": {"b": 0.0, "w": 0.0}}
    assert run_ranking(scores, ["a", "b", "w"]) == ["b", "w", "a"]


def _pools(errors: dict[str, float]) -> dict[str, _Pool]:
    """Three origins of 12 months selling 100 a month; each configuration `errors[name]` off every month."""
    out = {}
    for name, error in errors.items():
        pool = _Pool()
        for _ in range(3):
            pool.add(np.full(12, 100.0), np.full(12, 100.0 + error), np.full(24, 100.0))
        out[name] = pool
    return out


# Monthly errors per family; the run's mean over the three families: a 7, b 5, c 3.97, d 4.33, e 4, f 4.33,
# so its best two are c and e. The total (a level of its own) ranks a, b, c.
FAMILIES = {"family|1": {"a": 1, "b": 2, "c": 3, "d": 10, "e": 4, "f": 10},
            "family|2": {"a": 10, "b": 3, "c": 5, "d": 1, "e": 4, "f": 2},
            "family|3": {"a": 10, "b": 10, "c": 3.9, "d": 2, "e": 4, "f": 1}}
TOTAL = {"total|total": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}}


def test_the_runs_best_two_join_each_series_own_best_three():
    pools = {sid: _pools(errors) for sid, errors in (FAMILIES | TOTAL).items()}
    chosen = choose_from_pools(pools, NAMES, {}, combine=3)
    assert RUN_BEST == 2
    assert chosen["family|1"].members == ("a", "b", "c", "e")        # own a, b, c; c is the run's too
    assert chosen["family|2"].members == ("b", "c", "d", "e", "f")   # own d, f, b and the run's c, e
    assert chosen["family|3"].members == ("c", "d", "e", "f")        # own f, d, c
    assert chosen["total|total"].members == ("a", "b", "c")          # its level's best are its own
    assert all(choice.how == "mean" for choice in chosen.values())
    np.testing.assert_allclose(chosen["family|2"].combine([np.full(2, v) for v in (3, 5, 1, 4, 2)]), 3.0)


def test_without_the_runs_best_each_series_keeps_its_own_best_three():
    pools = {sid: _pools(errors) for sid, errors in FAMILIES.items()}
    chosen = choose_from_pools(pools, NAMES, {}, combine=3, run_best=0)
    assert [chosen[s].members for s in FAMILIES] == [("a", "b", "c"), ("b", "d", "f"), ("c", "d", "f")]


def test_a_run_member_with_a_members_forecasts_is_not_counted_twice():
    """family 1's e forecasts what its a forecasts (error 1): the run's mean for e drops to 3, its best two
    are e and c, both already there (e as a): a mean of a, b, c with e again would weigh a twice."""
    pools = {sid: _pools(errors) for sid, errors in FAMILIES.items()}
    pools["family|1"]["e"] = pools["family|1"]["a"]
    assert run_ranking({s: {m: p.recent_wape() for m, p in by.items()} for s, by in pools.items()}, NAMES)[:2] == ["e", "c"]
    chosen = choose_from_pools(pools, NAMES, {}, combine=3)
    assert chosen["family|1"].members == ("a", "b", "c")
    assert chosen["family|2"].members == ("b", "c", "d", "e", "f")
