"""Forecast value added, the demand waterfall and the KPI history on a small built case, recomputed by hand:
one family whose consensus adjustment helps, one whose adjustment hurts."""

from __future__ import annotations

from datetime import date

import pytest

from sop_pipeline.common.months import add_months
from sop_pipeline.store import db
from tests.support.track_record_cases import PLANS, SOLD, A, B
from tests.support.track_record_cases import insert_cycles as _insert


@pytest.fixture
def built(tmp_path):
    conn = db.connect(tmp_path / "plan.duckdb")
    db.ensure_schema(conn)
    yield conn
    conn.close()


def _by_hand(cycles):
    """WAPE, bias and value added per (family or ALL FAMILIES, lag), from the dicts above, in plain Python."""
    newest = max(cycles)
    known = {(f, m): u for f, sold in SOLD.items() for m, u in sold.items() if m < newest}
    sums: dict = {}
    for cycle in cycles:
        for family in (A, B):
            for i, (statistical, consensus) in enumerate(PLANS[cycle][family]):
                month = add_months(cycle, i)
                actual = known.get((family, month))
                naive = SOLD[family].get(add_months(month, -12))  # a year back: always in the cycle's history
                if actual is None:
                    continue
                for key in [(f, lag) for f in (family, "ALL FAMILIES") for lag in (str(i + 1), "horizon")]:
                    s = sums.setdefault(key, {"actual": 0.0, "naive": [0.0, 0.0], "statistical": [0.0, 0.0],
                                              "consensus": [0.0, 0.0], "cycles": set()})
                    s["actual"] += actual
                    s["cycles"].add(cycle)
                    for name, value in (("naive", naive), ("statistical", statistical), ("consensus", consensus)):
                        s[name][0] += abs(value - actual)
                        s[name][1] += value - actual
    out = {}
    for key, s in sums.items():
        wape = {n: s[n][0] / s["actual"] for n in ("naive", "statistical", "consensus")}
        out[key] = {**{f"{n}_wape": w for n, w in wape.items()},
                    **{f"{n}_bias": s[n][1] / s["actual"] for n in ("naive", "statistical", "consensus")},
                    "statistical_value_added": wape["naive"] - wape["statistical"],
                    "consensus_value_added": wape["statistical"] - wape["consensus"],
                    "n_cycles": len(s["cycles"])}
    return out


def _view(conn) -> dict:
    rows = db.query_pl(conn, "SELECT * FROM sop.forecast_value_added").to_dicts()
    return {(r["family"], r["lag"]): r for r in rows}


def test_value_added_matches_a_hand_computation(built):
    _insert(built, PLANS)
    view, hand = _view(built), _by_hand(list(PLANS))
    assert set(view) == set(hand)
    for key, expected in hand.items():
        for column, value in expected.items():
            assert view[key][column] == pytest.approx(value, abs=1e-12), (key, column)
    # The adjustment that helps adds value, the one that hurts takes it away. By hand, lag 1 (three cycles):
    # A statistical |95-100|+|104-110|+|124-130| = 17, consensus 0+2+1 = 3, actual 340: adds 14/340.
    assert view[(A, "1")]["consensus_value_added"] == pytest.approx(14 / 340)
    # B statistical |54-55|+|58-60|+|61-65| = 7, consensus 9+8+6 = 23, actual 180: takes 16/180 away.
    assert view[(B, "1")]["consensus_value_added"] == pytest.approx(-16 / 180)
    # Naive at lag 1 for A: |80-100|+|90-110|+|120-130| = 50 of 340; the statistical forecast adds 33/340.
    assert view[(A, "1")]["statistical_value_added"] == pytest.approx(33 / 340)
    assert view[(A, "horizon")]["n_cycles"] == 3 and (A, "4") not in view


def test_value_added_is_recomputed_as_actuals_arrive(built):
    _insert(built, [date(2025, 1, 1), date(2025, 2, 1)])
    # The newest history (cycle 2025-02's) knows January only: one month of cycle 2025-01 is scored.
    early = _view(built)
    assert early[(A, "horizon")]["n_months"] == 1 and early[(A, "1")]["n_cycles"] == 1
    _insert(built, [date(2025, 3, 1), date(2025, 4, 1)])
    later = _view(built)
    assert later[(A, "horizon")]["n_months"] == 6 and later[(A, "1")]["n_cycles"] == 3
    hand = _by_hand(list(PLANS))
    assert later[("ALL FAMILIES", "horizon")]["consensus_wape"] == pytest.approx(
        hand[("ALL FAMILIES", "horizon")]["consensus_wape"])


def test_the_waterfall_holds_every_cycles_number_for_a_month(built):
    _insert(built, PLANS)
    rows = built.execute("SELECT plan_cycle, lag_months, statistical_units, planned_units, naive_units, actual_units "
                         "FROM sop.demand_waterfall WHERE family = ? AND month = DATE '2025-03-01' "
                         "ORDER BY plan_cycle", [A]).fetchall()
    assert rows == [(date(2025, 1, 1), 3, 120, 128, 120, 130), (date(2025, 2, 1), 2, 121, 127, 120, 130),
                    (date(2025, 3, 1), 1, 124, 129, 120, 130)]
    # A month not yet happened has every cycle's plan and no actual.
    future = built.execute("SELECT count(*), count(actual_units) FROM sop.demand_waterfall "
                           "WHERE month = DATE '2025-04-01'").fetchall()
    assert future == [(6, 0)]  # cycles 2025-02 (lag 3), 2025-03 (lag 2) and 2025-04 (lag 1), two families


def test_kpi_history_has_one_row_per_cycle_with_its_accuracy(built):
    _insert(built, PLANS)
    rows = db.query_pl(built, "SELECT * FROM sop.kpi_history ORDER BY plan_cycle").to_dicts()
    assert [r["plan_cycle"] for r in rows] == list(PLANS)
    first = rows[0]
    # Cycle 2025-01, lag 1 (January), both families: consensus |100-100| + |64-55| = 9 of 155 sold.
    assert first["wape_lag1"] == pytest.approx(9 / 155)
    assert first["bias_lag1"] == pytest.approx(9 / 155)
    assert first["naive_wape_lag1"] == pytest.approx((20 + 5) / 155)
    assert rows[-1]["wape_lag1"] is None  # the live cycle's months have not happened
