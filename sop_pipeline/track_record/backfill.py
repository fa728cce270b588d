"""Which past cycles a backfill plans, and how a run knows it is one (no Dagster here).

A backfilled cycle is planned exactly like `sop-pipeline run --cycle C`, except that it reads only the
sales dated before C (the history as it stood when C was planned), and planner files written for today
(adjustments, budget) keep only their rows inside C's horizon. Cycles are replayed oldest first, so each
one's warm start is the cycle before it, as in a run made month by month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.common.months import add_months, months_between

# The Dagster run tag that marks a run as a backfilled cycle, and the kinds `sop.plan_runs.run_kind` records.
RUN_KIND_TAG = "sop/run_kind"
BACKFILL = "backfill"
RUN = "run"


def is_backfill(tags: Mapping[str, str] | None) -> bool:
    """Whether a run (by its tags) replays a past cycle."""
    return bool(tags) and tags.get(RUN_KIND_TAG) == BACKFILL


def history_cut(tags: Mapping[str, str] | None, cycle: date) -> date | None:
    """The first sale date a run must not read: the cycle's first day for a backfilled cycle, else none
    (a live run reads every row, and its data check refuses sales dated after the cycle)."""
    return cycle if is_backfill(tags) else None


@dataclass(frozen=True)
class PublishedCycle:
    """A cycle already in `sop.plan_runs`: how it was made and with which settings."""

    cycle: date
    run_kind: str
    settings_hash: str | None


@dataclass(frozen=True)
class BackfillPlan:
    cycles: tuple[date, ...]   # every cycle of the range, oldest first
    done: tuple[date, ...]     # the leading cycles already backfilled with these settings (kept: resume)
    to_run: tuple[date, ...]   # the rest, planned in this order

    @property
    def first_to_run(self) -> date | None:
        return self.to_run[0] if self.to_run else None


def parse_range(start: str, end: str) -> tuple[date, date]:
    """`--from` and `--to` (YYYY-MM) as first days of months, checked for order."""
    from sop_pipeline.common.months import parse_month

    first, last = parse_month(start), parse_month(end)
    for flag, text, value in (("--from", start, first), ("--to", end, last)):
        if value is None:
            raise SettingsError(f"{flag} {text!r} is not a month", where=flag,
                                fix="Write it as YYYY-MM, e.g. 2025-11")
    if first > last:
        raise SettingsError(f"--from {first:%Y-%m} is after --to {last:%Y-%m}", where="--from/--to",
                            fix="Give the oldest cycle first")
    return first, last


def plan_backfill(first: date, last: date, first_sales_month: date, last_sales_month: date,
                  published: Mapping[date, PublishedCycle], settings_hash: str) -> BackfillPlan:
    """The cycles first..last to replay, checked against the sales history and the published cycles.

    A backfilled cycle needs history before it (after the first month of sales) and its own month of
    actuals (at most the last month of sales: the month after it is the live cycle, planned by
    `sop-pipeline run`); a cycle published by a live run is never replaced by a replay. Cycles
    already backfilled with the same settings are kept from the start of the range up to the first one
    that is not (resume); from there on every cycle is planned again, since each warm-starts from the one
    before it."""
    problems = []
    if first <= first_sales_month:
        problems.append(f"--from {first:%Y-%m} is not after the first month of sales ({first_sales_month:%Y-%m}): "
                        f"a cycle needs history before it; start at {add_months(first_sales_month, 1):%Y-%m} "
                        "or later")
    if last > last_sales_month:
        problems.append(f"--to {last:%Y-%m} is after the last month of sales ({last_sales_month:%Y-%m}): a backfilled "
                        f"cycle is a past one, with its month's actuals known; end at {last_sales_month:%Y-%m} "
                        f"or earlier (the live cycle {add_months(last_sales_month, 1):%Y-%m} is planned by "
                        "`sop-pipeline run`)")
    cycles = tuple(add_months(first, i) for i in range(months_between(first, last) + 1))
    live = [c for c in cycles if c in published and published[c].run_kind != BACKFILL]
    if live:
        problems.append("the range overlaps cycle(s) planned by a live run, which a backfill never replaces: "
                        + ", ".join(f"{c:%Y-%m}" for c in live)
                        + "; end the range before the first of them")
    if problems:
        raise SettingsError("The backfill range cannot be planned", where="--from/--to", problems=problems,
                            fix="Nothing was published; change --from/--to and run again")
    done = []
    for cycle in cycles:
        row = published.get(cycle)
        if row is None or row.settings_hash != settings_hash:
            break
        done.append(cycle)
    return BackfillPlan(cycles=cycles, done=tuple(done), to_run=cycles[len(done):])


def within_horizon(frame, cycle: date, horizon_months: int, column: str = "month"):
    """The rows of a planner file (adjustments, budget: written for today's cycle) whose month falls in a
    backfilled cycle's horizon; the others could not have been part of that cycle's plan."""
    import polars as pl

    end = add_months(cycle, horizon_months)
    return frame.filter((pl.col(column) >= cycle) & (pl.col(column) < end))


def plannable_adjustments(adjustments, cycle: date, horizon_months: int, skus_in_plan):
    """The adjustments of today's file a backfilled cycle could have made: in its horizon, and on a family
    or on a SKU that cycle plans (a SKU launched since, or a new product it could not plan yet, was not
    there to adjust)."""
    import polars as pl

    inside = within_horizon(adjustments, cycle, horizon_months)
    return inside.filter(pl.col("sku").is_null() | pl.col("sku").is_in(list(skus_in_plan)))


def plannable_launches(catalogue, history, cycle: date, horizon_months: int):
    """The new products of today's catalogue a backfilled cycle could have planned: launching in its horizon,
    not yet selling, and with every analog SKU already in its history (the others were not known then)."""
    import polars as pl

    sold = set(history["sku"].unique().to_list()) if history.height else set()
    end = add_months(cycle, horizon_months)
    keep = [row["launch_month"] is not None and cycle <= row["launch_month"] < end and row["product"] not in sold
            and all(analog["sku"] in sold for analog in row["analogs"])
            for row in catalogue.iter_rows(named=True)]
    return catalogue.filter(pl.Series(keep, dtype=pl.Boolean))
