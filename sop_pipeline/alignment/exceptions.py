"""Exceptions: what in this cycle's plan needs a decision at the S&OP meeting, with the money at stake.

Each finder reads one published-shape table and returns EXCEPTION_COLUMNS rows; `find_exceptions`
runs them all and ranks the rows by money at stake. Thresholds come from `alerts:` in sop.yaml.

- capacity_over: a work centre's (or the shared plant labour's) hours used / available in a month
  is above `capacity_utilization`. value: utilization; money: the hours above the threshold (of what
  the plan uses or the demand plan would need, the larger) x the overtime wage of the families using
  it. High at 100% or when the demand plan needs more than there is, else medium.
- below_safety_stock: a family's (chosen plan) ending inventory below its safety stock, or a SKU's
  (inventory plan) more than half of it; one row each, at the worst month. value: units below it; threshold: the safety
  stock; money: units below x unit price (sales at risk if demand runs high). Medium when more than
  half the buffer is gone, else low.
- units_short: a family's plan leaves orders late (backlog). value: the peak backlog; money: peak
  backlog x unit price (sales delayed). High.
- plan_change: a family's planned units moved more than `plan_change_percent` against the previous
  published cycle, over the months both cover. value: change %; money: change in units x unit price.
- forecast_bias: a family's recent forecasts ran more than `forecast_bias_percent` high or low.
  value: bias %; money: bias x planned revenue of the next BIAS_AHEAD_MONTHS months.
- budget_gap: a family's plan is more than `budget_gap_percent` off its budget over the budget's
  months. value: gap %; money: the revenue gap (units gap x unit price where only units are budgeted).
plan_change, forecast_bias and budget_gap are high beyond twice their threshold, else medium.

Unit prices are the demand plan's (planned revenue / planned units). Where a family has no price (no
revenue column in the sales history), money is a cost that exists instead, said in the message: units
short x the plan's backlog cost of that family over the horizon ("of backlog cost"), and units below
safety stock, plan changes, forecast bias and budget gaps x the family's unit cost (material plus the
labour hours of a unit at the regular wage, from planning: "of production cost"). Without either, null.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from sop_pipeline.config.schema import AlertSettings
from sop_pipeline.supply.tables import ALL_FAMILIES

EXCEPTION_COLUMNS = ["severity", "kind", "family", "sku", "resource", "month", "value", "threshold",
                     "money_at_stake", "message"]
# Set when a cycle is published (sql/exceptions_carry_forward.sql), not by the finders: the key decisions
# name an exception by across versions and cycles, and the cycle an open one was first raised in.
PUBLICATION_COLUMNS = ["exception_key", "carried_from"]
EXCEPTION_SCHEMA = {"severity": pl.String, "kind": pl.String, "family": pl.String, "sku": pl.String,
                    "resource": pl.String, "month": pl.Date, "value": pl.Float64, "threshold": pl.Float64,
                    "money_at_stake": pl.Float64, "message": pl.String}
SEVERITIES = ("high", "medium", "low")
KINDS = ("capacity_over", "below_safety_stock", "units_short", "plan_change", "forecast_bias", "budget_gap")
BIAS_AHEAD_MONTHS = 3  # the months a biased forecast is about to drive
_UNIT = 0.5            # less than half a unit below a target is rounding, not an exception
FULL = 0.999           # a work centre this busy is full (the plan uses all of it but rounding)


def _money(value: float | None, what: str = "") -> str:
    """", about 12,345 of sales at risk" (empty without a figure)."""
    # Nothing to say of less than 1 ("about 0 of sales" reads as a figure nobody has).
    return "" if value is None or abs(value) < 0.5 else f", about {value:,.0f}{' ' + what if what else ''}"


class Money:
    """The money at stake per unit of a family: its price where the plan has one, else its unit cost."""

    def __init__(self, prices: Mapping[str, float], unit_costs: Mapping[str, float] | None = None):
        # A price of 0 is no price: the plan's revenue is 0 where the sales history has none.
        self.prices = {k: v for k, v in prices.items() if v is not None and v > 0}
        self.unit_costs = {k: v for k, v in (unit_costs or {}).items() if v is not None and v > 0}

    def per_unit(self, family: str, sku_price: float | None = None) -> tuple[float | None, bool]:
        """(money per unit, whether it is a price)."""
        if sku_price is not None and sku_price > 0:
            return sku_price, True
        if family in self.prices:
            return self.prices[family], True
        return self.unit_costs.get(family), False

    def of(self, family: str, units: float, sales_words: str, sku_price: float | None = None) -> tuple[float | None, str]:
        """(money, its words): units x price "of sales ...", or units x unit cost "of production cost"."""
        rate, is_price = self.per_unit(family, sku_price)
        if rate is None:
            return None, ""
        return abs(units) * rate, sales_words if is_price else COST_WORDS


COST_WORDS = "of production cost"
BACKLOG_WORDS = "of backlog cost"


def _of(name: str) -> str:
    """The possessive: "Cookware's", "Textiles'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EXCEPTION_SCHEMA).select(EXCEPTION_COLUMNS)


def _graded(value: float, threshold: float) -> str:
    return "high" if abs(value) > 2 * threshold else "medium"


def unit_prices(demand_plan: pl.DataFrame, key: str = "family") -> dict[str, float]:
    """Planned revenue / planned units per family (or SKU) over the horizon; absent without revenue."""
    if demand_plan.is_empty() or "planned_revenue" not in demand_plan.columns:
        return {}
    sums = (demand_plan.sort("family", "sku", "month").group_by(key, maintain_order=True)
            .agg(pl.col("planned_units").sum(), pl.col("planned_revenue").sum(),
                 pl.col("planned_revenue").count().alias("priced"))
            .filter((pl.col("planned_units") > 0) & (pl.col("priced") > 0)))
    return {k: r / u for k, u, r in sums.select(key, "planned_units", "planned_revenue").iter_rows()}


def unit_cost(material_per_unit: float, labor_hours_per_unit: float, regular_wage_per_hour: float) -> float:
    """What a unit costs to make: its material plus its labour hours at the regular wage."""
    return material_per_unit + labor_hours_per_unit * regular_wage_per_hour


def capacity_exceptions(capacity: pl.DataFrame, threshold: float,
                        overtime_rates: Mapping[str, float]) -> pl.DataFrame:
    """capacity_over: a work centre (or the plant's shared labour) above its utilization threshold."""
    if capacity.is_empty():
        return _frame([])
    totals = capacity.filter((pl.col("family") == ALL_FAMILIES) & pl.col("utilization").is_not_null()
                             & (pl.col("utilization") > threshold + 1e-9))
    families = capacity.filter(pl.col("family") != ALL_FAMILIES)
    rows = []
    for row in totals.sort("resource", "month").iter_rows(named=True):
        users = families.filter((pl.col("resource") == row["resource"]) & (pl.col("month") == row["month"]))
        hours = users["hours_required"].sum()
        rate = (sum(h * overtime_rates.get(f, 0.0) for f, h in users.select("family", "hours_required").iter_rows())
                / hours if hours > 0 else None)
        available, need = row["hours_available"], row["hours_unconstrained"]
        overage = max(row["hours_required"], need) - threshold * available
        short = need > available + 1e-6
        full = row["utilization"] >= FULL  # the optimal plan fills a binding centre to solver precision
        what = (f"the demand plan alone would need {need:,.0f} h, so the plan builds ahead, subcontracts or delays "
                f"the rest" if short else f"the demand plan alone would need {need:,.0f} h")
        rows.append({
            "severity": "high" if full or short else "medium", "kind": "capacity_over", "family": None, "sku": None,
            "resource": row["resource"], "month": row["month"], "value": row["utilization"], "threshold": threshold,
            "money_at_stake": None if rate is None else max(overage, 0.0) * rate,
            "message": f"{row['resource']} runs at {row['utilization']:.0%} of its {available:,.0f} h in "
                       f"{row['month']:%Y-%m} (alert above {threshold:.0%}); {what}. Decide: add hours (a shift, "
                       f"overtime) or accept the plan moving production around it.",
        })
    return _frame(rows)


def safety_stock_exceptions(production: pl.DataFrame, inventory: pl.DataFrame | None,
                            prices: Mapping[str, float] | Money, sku_prices: Mapping[str, float] | None = None
                            ) -> pl.DataFrame:
    """below_safety_stock: per family (chosen plan) and per SKU (inventory plan), the worst month below it."""
    money_of = prices if isinstance(prices, Money) else Money(prices)
    rows = []
    for level, frame, key in (("family", production, "family"), ("sku", inventory, "sku")):
        if frame is None or frame.is_empty():
            continue
        below = (frame.with_columns(shortfall=pl.col("safety_stock") - pl.col("ending_inventory"))
                 .filter(pl.col("shortfall") >= _UNIT))
        if below.is_empty():
            continue
        worst = (below.sort([key, "shortfall", "month"], descending=[False, True, False])
                 .group_by(key, maintain_order=True)
                 .agg(pl.all().first(), pl.len().alias("months_below")))
        for row in worst.iter_rows(named=True):
            name = row[key]
            share = row["shortfall"] / row["safety_stock"] if row["safety_stock"] else 1.0
            if level == "sku" and share <= 0.5:
                continue  # a SKU a little below its buffer is the family plan's mix, not a decision
            label = name if level == "family" else f"SKU {name} ({row['family']})"
            money, words = money_of.of(row["family"], row["shortfall"], "of sales at risk",
                                       (sku_prices or {}).get(name) if level == "sku" else None)
            rows.append({
                "severity": "medium" if share > 0.5 else "low", "kind": "below_safety_stock",
                "family": row["family"], "sku": name if level == "sku" else None, "resource": None,
                "month": row["month"], "value": row["shortfall"], "threshold": row["safety_stock"],
                "money_at_stake": money,
                "message": f"{label} ends {row['month']:%Y-%m} with {max(row['ending_inventory'], 0):,.0f} units, "
                           f"{row['shortfall']:,.0f} below its safety stock of {row['safety_stock']:,.0f} "
                           f"({row['months_below']} month{'s' if row['months_below'] > 1 else ''} below it); "
                           f"a demand spike would go unserved{_money(money, words)}. "
                           "Decide: build stock earlier or accept the risk.",
            })
    return _frame(rows)


def shortage_exceptions(production: pl.DataFrame, prices: Mapping[str, float] | Money) -> pl.DataFrame:
    """units_short: families whose chosen plan leaves orders late (backlog), at the peak month. Money: the
    peak backlog x price, or without a price the plan's own backlog cost of the family over the horizon."""
    money_of = prices if isinstance(prices, Money) else Money(prices)
    if production.is_empty():
        return _frame([])
    late = production.filter(pl.col("backlog") >= _UNIT)
    rows = []
    for (family,), months in late.group_by("family", maintain_order=True):
        peak = months.sort(["backlog", "month"], descending=[True, False]).row(0, named=True)
        price, is_price = money_of.per_unit(family)
        money, words = (peak["backlog"] * price, "of sales delayed") if is_price else (None, "")
        if money is None and "backlog_cost" in months.columns and months["backlog_cost"].sum() > 0:
            money, words = float(months["backlog_cost"].sum()), BACKLOG_WORDS
        rows.append({
            "severity": "high", "kind": "units_short", "family": family, "sku": None, "resource": None,
            "month": peak["month"], "value": peak["backlog"], "threshold": 0.0, "money_at_stake": money,
            "message": f"{family} cannot ship {peak['backlog']:,.0f} units on time in {peak['month']:%Y-%m} "
                       f"(late orders in {months.height} month{'s' if months.height > 1 else ''})"
                       f"{_money(money, words)}. Decide: add overtime or "
                       "subcontracting, or agree later deliveries with the customers.",
        })
    return _frame(rows)


def plan_change_exceptions(changes: pl.DataFrame, threshold: float,
                           prices: Mapping[str, float] | Money) -> pl.DataFrame:
    """plan_change: `changes` has family, previous_cycle, planned_units, previous_planned_units (the
    months both plans cover)."""
    money_of = prices if isinstance(prices, Money) else Money(prices)
    rows = []
    for row in changes.iter_rows(named=True):
        before, now = row["previous_planned_units"], row["planned_units"]
        if not before or now is None:
            continue
        pct = 100 * (now - before) / before
        if abs(pct) <= threshold:
            continue
        money, words = money_of.of(row["family"], now - before, "of sales")
        rows.append({
            "severity": _graded(pct, threshold), "kind": "plan_change", "family": row["family"], "sku": None,
            "resource": None, "month": None, "value": pct, "threshold": threshold, "money_at_stake": money,
            "message": f"{_of(row['family'])} plan is {abs(pct):.0f}% {'above' if pct > 0 else 'below'} last cycle's "
                       f"({row['previous_cycle']:%Y-%m}) over the months both cover: {now - before:+,.0f} units"
                       f"{_money(money, words)}. Decide: confirm the change is real before "
                       "production follows it.",
        })
    return _frame(rows)


def forecast_bias_exceptions(bias: pl.DataFrame, threshold: float, demand_plan: pl.DataFrame,
                             unit_costs: Mapping[str, float] | None = None) -> pl.DataFrame:
    """forecast_bias: `bias` has family, bias (a fraction: sum(forecast - actual) / sum(actual)) and
    evidence (which forecasts, in words). Money: the bias applied to the next months' planned revenue."""
    rows = []
    ahead, ahead_units = {}, {}
    if not demand_plan.is_empty():
        first = demand_plan["month"].unique().sort().head(BIAS_AHEAD_MONTHS).to_list()
        near = demand_plan.filter(pl.col("month").is_in(first)).sort("family", "sku", "month")
        if "planned_revenue" in demand_plan.columns:
            ahead = {f: r for f, r in near.group_by("family", maintain_order=True)
                     .agg(pl.col("planned_revenue").sum()).iter_rows() if r is not None and r > 0}
        ahead_units = dict(near.group_by("family", maintain_order=True).agg(pl.col("planned_units").sum()).iter_rows())
    for row in bias.iter_rows(named=True):
        if row["bias"] is None or abs(100 * row["bias"]) <= threshold:
            continue
        pct = 100 * row["bias"]
        revenue = ahead.get(row["family"])
        money, words = (None, "") if revenue is None else (abs(row["bias"]) * revenue, "of sales")
        if money is None:
            money, words = Money({}, unit_costs).of(row["family"], row["bias"] * ahead_units.get(row["family"], 0.0), "")
        rows.append({
            "severity": _graded(pct, threshold), "kind": "forecast_bias", "family": row["family"], "sku": None,
            "resource": None, "month": None, "value": pct, "threshold": threshold, "money_at_stake": money,
            "message": f"{_of(row['family'])} forecasts ran {abs(pct):.0f}% {'high' if pct > 0 else 'low'} "
                       f"({row['evidence']}); the next {BIAS_AHEAD_MONTHS} months' plan may be off by as much"
                       f"{_money(money, words)}. Decide: review the forecast or agree a "
                       "consensus adjustment.",
        })
    return _frame(rows)


def recent_bias(published: pl.DataFrame, backtest: pl.DataFrame | None = None, min_months: int = 3) -> pl.DataFrame:
    """Each family's recent forecast bias and its evidence, for `forecast_bias_exceptions`.

    `published`: rows of sql/exceptions_forecast_bias.sql (earlier cycles' forecasts against the
    actuals since: family, first_cycle, last_cycle, n_months, bias), used where they cover at least
    `min_months` months; `backtest`: rows of sql/exceptions_backtest_bias.sql (family, bias,
    n_points), for the families without such a record (the first cycles a pipeline runs)."""
    rows = []
    for row in published.iter_rows(named=True):
        if row["n_months"] >= min_months and row["bias"] is not None:
            span = (f"cycle {row['first_cycle']:%Y-%m}" if row["first_cycle"] == row["last_cycle"]
                    else f"cycles {row['first_cycle']:%Y-%m}..{row['last_cycle']:%Y-%m}")
            rows.append({"family": row["family"], "bias": row["bias"],
                         "evidence": f"{span}, 0-2 months ahead, against actuals"})
    judged = {r["family"] for r in rows}
    if backtest is not None:
        rows += [{"family": r["family"], "bias": r["bias"], "evidence": f"{r['n_points']}-month backtest"}
                 for r in backtest.iter_rows(named=True) if r["family"] not in judged]
    return pl.DataFrame(rows, schema={"family": pl.String, "bias": pl.Float64, "evidence": pl.String})


def budget_exceptions(gap: pl.DataFrame, threshold: float, prices: Mapping[str, float] | Money) -> pl.DataFrame:
    """budget_gap: a family more than the threshold off budget over the months its budget covers
    (revenue where budgeted, else units)."""
    if gap.is_empty():
        return _frame([])
    sums = (gap.filter(pl.col("family") != ALL_FAMILIES).group_by("family", maintain_order=True).agg(
        pl.col("month").min().alias("first"), pl.col("month").max().alias("last"),
        *(pl.col(c).drop_nulls().sum().alias(c) for c in ("budget_revenue", "revenue_gap", "budget_units", "units_gap")),
        pl.col("budget_revenue").count().alias("revenue_rows"), pl.col("revenue_gap").count().alias("revenue_gaps")))
    money_of = prices if isinstance(prices, Money) else Money(prices)
    rows = []
    for row in sums.sort("family").iter_rows(named=True):
        by_revenue = row["revenue_gaps"] > 0 and row["budget_revenue"] > 0
        if by_revenue:
            pct, money = 100 * row["revenue_gap"] / row["budget_revenue"], abs(row["revenue_gap"])
            amount = f"{row['revenue_gap']:+,.0f} in revenue"
        elif row["budget_units"] > 0:
            pct = 100 * row["units_gap"] / row["budget_units"]
            money, words = money_of.of(row["family"], row["units_gap"], "of sales")
            amount = f"{row['units_gap']:+,.0f} units{_money(money, words)}"
        else:
            continue
        if abs(pct) <= threshold:
            continue
        rows.append({
            "severity": _graded(pct, threshold), "kind": "budget_gap", "family": row["family"], "sku": None,
            "resource": None, "month": None, "value": pct, "threshold": threshold, "money_at_stake": money,
            "message": f"{_of(row['family'])} plan is {abs(pct):.0f}% {'above' if pct > 0 else 'below'} budget over "
                       f"{row['first']:%Y-%m}..{row['last']:%Y-%m} ({amount}). Decide: "
                       + ("close the gap (promotion, pricing, new customers) or revise the budget." if pct < 0
                          else "secure the capacity and material for it, or hold the plan at budget."),
        })
    return _frame(rows)


def find_exceptions(alerts: AlertSettings, *, demand_plan: pl.DataFrame, production: pl.DataFrame,
                    inventory: pl.DataFrame | None = None, capacity: pl.DataFrame | None = None,
                    budget_gap: pl.DataFrame | None = None, plan_changes: pl.DataFrame | None = None,
                    forecast_bias: pl.DataFrame | None = None,
                    overtime_rates: Mapping[str, float] | None = None,
                    unit_costs: Mapping[str, float] | None = None) -> pl.DataFrame:
    """Every exception of the cycle, EXCEPTION_COLUMNS, ranked by money at stake (then severity).

    `production`: the chosen strategy's PRODUCTION_COLUMNS rows; `inventory`: sop.inventory_plan rows;
    `capacity`: sop.capacity_plan rows; `budget_gap`: sop.budget_gap rows; `plan_changes` and
    `forecast_bias` as `plan_change_exceptions` and `forecast_bias_exceptions` take them;
    `overtime_rates`: overtime wage per hour by family; `unit_costs`: cost of a unit by family (`unit_cost`),
    the money per unit where a family has no price. Missing inputs find nothing.
    """
    prices = Money(unit_prices(demand_plan), unit_costs)
    frames = [
        capacity_exceptions(capacity, alerts.capacity_utilization, overtime_rates or {})
        if capacity is not None else None,
        safety_stock_exceptions(production, inventory, prices, unit_prices(demand_plan, "sku")),
        shortage_exceptions(production, prices),
        plan_change_exceptions(plan_changes, alerts.plan_change_percent, prices) if plan_changes is not None else None,
        forecast_bias_exceptions(forecast_bias, alerts.forecast_bias_percent, demand_plan, unit_costs)
        if forecast_bias is not None else None,
        budget_exceptions(budget_gap, alerts.budget_gap_percent, prices) if budget_gap is not None else None,
    ]
    found = pl.concat([f for f in frames if f is not None])
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return (found.with_columns(_rank=pl.col("severity").replace_strict(rank, return_dtype=pl.Int64))
            .sort(["money_at_stake", "_rank", "kind", "family", "sku", "resource", "month"],
                  descending=[True, False, False, False, False, False, False], nulls_last=True)
            .select(EXCEPTION_COLUMNS))
