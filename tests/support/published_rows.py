"""Hand-made rows of published sop.* tables, for the tests of the SQL that reads them (views, exceptions)."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

AUG, SEP, OCT, NOV, DEC, JAN = (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1),
                                date(2026, 12, 1), date(2027, 1, 1))


def insert(conn, table: str, rows: list[dict]) -> None:
    conn.register("_rows", pl.DataFrame(rows))
    try:
        conn.execute(f"INSERT INTO sop.{table} BY NAME SELECT * FROM _rows")
    finally:
        conn.unregister("_rows")


def published(conn, *cycles: date) -> None:
    insert(conn, "plan_runs", [{"plan_cycle": c, "run_id": f"run-{c:%Y%m}", "created_at": datetime(2026, 1, 1)}
                               for c in cycles])


def demand_rows(cycle: date, units: dict[date, tuple[float, float]], family: str = "A") -> list[dict]:
    """Two SKUs per family and month, so the view must sum them."""
    return [{"plan_cycle": cycle, "family": family, "sku": f"{family}{i}", "month": m, "planned_units": u}
            for m, pair in units.items() for i, u in enumerate(pair)]
