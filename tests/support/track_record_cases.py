"""A small built track record: two families, three past cycles and the live one, with their actuals
(used by the track-record tests and the report's Track record section test)."""

from __future__ import annotations

from datetime import date, datetime

from sop_pipeline.common.months import add_months

A, B = "Anvils", "Brooms"
# Units sold, by family and month (2024 is history for every cycle; 2025-01..03 happen during the cycles).
SOLD = {
    A: {**{date(2024, m, 1): 100.0 for m in range(1, 13)}, date(2024, 1, 1): 80.0, date(2024, 2, 1): 90.0,
        date(2024, 3, 1): 120.0, date(2025, 1, 1): 100.0, date(2025, 2, 1): 110.0, date(2025, 3, 1): 130.0},
    B: {**{date(2024, m, 1): 60.0 for m in range(1, 13)}, date(2024, 1, 1): 50.0, date(2024, 3, 1): 70.0,
        date(2025, 1, 1): 55.0, date(2025, 2, 1): 60.0, date(2025, 3, 1): 65.0},
}
# Each cycle's plan for its 3 months: (statistical forecast, consensus plan). A's consensus moves towards what
# then sold (the adjustment helps); B's is pushed 10 units up (it hurts).
PLANS = {
    date(2025, 1, 1): {A: [(95, 100), (100, 108), (120, 128)], B: [(54, 64), (62, 72), (66, 76)]},
    date(2025, 2, 1): {A: [(104, 108), (121, 127), (100, 100)], B: [(58, 68), (63, 73), (60, 70)]},
    date(2025, 3, 1): {A: [(124, 129), (100, 100), (100, 100)], B: [(61, 71), (60, 70), (60, 70)]},
    date(2025, 4, 1): {A: [(100, 100)] * 3, B: [(60, 60)] * 3},  # the live cycle: no actuals yet
}


def insert_cycles(conn, cycles):
    for cycle in cycles:
        conn.execute("INSERT INTO sop.plan_runs (plan_cycle, run_id, created_at, run_kind) VALUES (?, ?, ?, ?)",
                     [cycle, f"run-{cycle}", datetime(2025, 1, 1), "backfill"])
        for family, sold in SOLD.items():
            for month, units in sold.items():
                if month < cycle:  # each cycle publishes the history as it stood then
                    conn.execute("INSERT INTO sop.demand_history VALUES (?, ?, ?, ?, ?, 0, 1)",
                                 [cycle, family, family, month, units])
            for i, (statistical, consensus) in enumerate(PLANS[cycle][family]):
                conn.execute("INSERT INTO sop.demand_plan (plan_cycle, family, sku, month, statistical_forecast, "
                             "planned_units) VALUES (?, ?, ?, ?, ?, ?)",
                             [cycle, family, family, add_months(cycle, i), statistical, consensus])
