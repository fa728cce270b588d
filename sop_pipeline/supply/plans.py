"""The supply side of the cycle: safety stock, production plans per strategy, inventory and operating plans.

From the demand plan (family, SKU, month) and the forecast's uncertainty this module builds one
aggregate-planning problem per family (`planning.defaults` merged with `planning.families[F]`),
solves every strategy for every family, and turns the chosen strategy's family plans into the
tables a planner reads: `production_plan`, `strategy_comparison`, `inventory_plan` (per SKU) and
`operating_plan` (people, hours, money). Plain functions on Polars frames; no Dagster.

Impossible strategies. The chosen strategy (`planning.strategy`) must have a plan for every family,
otherwise nothing is published and the run fails with the planner's own explanation (PlanningError:
which family, which month, which limit). The optimal plans are always solved (they are the yardstick
the others are compared with) and must succeed. A level or chase plan that is impossible for a
family (a workforce above `workforce.max`, a month with no working days, or level/chase plans that
together exceed `planning.shared_capacity`) is not an error when it is not the chosen strategy: it
is recorded in `strategy_comparison` with `solver_status = 'infeasible: <reason>'`, null costs and
no `production_plan` rows.

Cost comparisons. Level and chase ignore safety stock (their textbook definitions do), the optimal
plan keeps it as a soft floor whose shortfall penalty is not cash. So the optimal plan's cash
`total_cost` can exceed level's when meeting safety stock costs holding; its cash cost plus
`safety_stock_penalty` never exceeds any other strategy's, and both columns are published.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

import numpy as np
import polars as pl

from sop_pipeline.common.errors import InputDataError, PlanningError, SettingsError
from sop_pipeline.common.months import add_months, month_label
from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.problem import Problem, merge_params, problem_from_settings
from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply.result import COST_COLUMNS, STRATEGIES, PlanResult, clean_solver_noise
from sop_pipeline.supply.strategies import plan, plan_families
from sop_pipeline.supply.work_centres import check_resource_families, resource_limits

ALL_FAMILIES = "ALL FAMILIES"
COVER_MONTHS = 3          # months_of_supply: ending inventory / average demand of the next 3 months
INITIAL_SPLIT_MONTHS = 3  # initial family stock goes to SKUs by their share of the first 3 months' demand
_CENT = 0.005             # "to the cent": differences under half a cent

PRODUCTION_COLUMNS = [
    "family", "strategy", "month", "demand", "working_days", "workforce", "hires", "layoffs",
    "regular_units", "overtime_units", "overtime_hours", "subcontract_units", "ending_inventory", "backlog",
    "safety_stock", "safety_stock_shortfall", "regular_hours", "idle_hours", *COST_COLUMNS, "total_cost",
    "safety_stock_penalty",
]
COMPARISON_COLUMNS = ["family", "strategy", "total_cost", *COST_COLUMNS, "safety_stock_penalty",
                      "cost_with_safety_stock_penalty", "units_short", "solver_status", "chosen",
                      "minimises", "solver_objective", "mip_gap", "starting_workforce", "ending_workforce"]
# What each strategy's plan is chosen by (sop.strategy_comparison.minimises): level and chase follow a rule.
MINIMISES = {"level": "rule: one workforce for the horizon", "chase": "rule: each month's workforce meets its demand",
             "optimal": "cost_with_safety_stock_penalty"}
INVENTORY_COLUMNS = ["family", "sku", "month", "beginning_inventory", "beginning_backlog", "production", "demand",
                     "ending_inventory", "backlog", "safety_stock", "months_of_supply"]
LABOR_COST_COLUMNS = ["regular_labor_cost", "overtime_cost", "hiring_cost", "layoff_cost"]
OPERATING_COLUMNS = [
    "family", "month", "headcount", "hires", "layoffs", "regular_hours", "overtime_hours", "subcontract_units",
    *LABOR_COST_COLUMNS, "labor_cost", "material_cost", "subcontract_cost", "holding_cost", "backlog_cost",
    "total_cost", "planned_units", "planned_revenue", "gross_margin",
]
SAFETY_STOCK_COLUMNS = ["level", "family", "sku", "month", "yhat", "sigma_band", "sigma_backtest", "sigma",
                        "safety_stock"]


# ----------------------------------------------------------------------------------------------
# Calendar

def working_days(month: date) -> int:
    """Weekdays (Monday to Friday) in the month starting at `month`: the period's working days."""
    start = month.replace(day=1)
    return int(np.busday_count(start, add_months(start, 1)))


# ----------------------------------------------------------------------------------------------
# Safety stock

def safety_stock(forecast: pl.DataFrame, accuracy: pl.DataFrame | None, service_level: float,
                 interval_width: float) -> pl.DataFrame:
    """Safety stock per family x month and per SKU x month from the forecast's uncertainty.

        SS_t = z(service_level) * sigma_t,   sigma_t = max(sigma_band_t, sigma_backtest_t)

    - sigma_band_t: the forecast band read back as a standard deviation,
      (yhat_upper - yhat_lower) / (2 z(interval_width)). The band is floored at zero units, which
      narrows it from below only, so the upper half-width (yhat_upper - yhat) / z(interval_width)
      is used where it is larger: the unfloored width. It grows with the horizon as the band does.
    - sigma_backtest_t: the error the forecast actually made out of sample. `forecast_accuracy`
      gives the backtest WAPE of the published method (`method = 'chosen'`) for the same level and
      series; for normal errors the mean absolute error is sigma * sqrt(2/pi), so
      sigma_backtest_t = sqrt(pi/2) * WAPE * yhat_t. Null where the series was not backtested.
    - z(p) is the standard normal quantile, one-sided for the service level (the probability of no
      stock-out in a month: cycle service level), two-sided for the band: z((1 + width) / 2).

    `forecast`: rows of `sop.forecast` (level, series_key, family, sku, month, yhat, yhat_lower,
    yhat_upper); level 'family' and 'sku' rows are used. SKU safety stock comes from the SKU's own
    forecast. A family's is the larger of its own forecast's and the sum of its SKUs': SKUs are not
    interchangeable, so stock of one does not cover a shortfall of another, and a family plan that
    kept only the pooled buffer would leave most SKUs below theirs.
    SKUs or families without forecast rows (new products) get none.
    Returns SAFETY_STOCK_COLUMNS: level ('family' | 'sku'), family, sku (null for families),
    month, yhat, sigma_band, sigma_backtest, sigma, safety_stock.
    """
    if not 0.5 < service_level < 1:
        raise SettingsError(f"service_level {service_level} is not between 0.5 and 1", where="planning.service_level",
                            fix="Use a probability such as 0.95")
    z_service = NormalDist().inv_cdf(service_level)
    z_band = NormalDist().inv_cdf((1 + interval_width) / 2)
    rows = forecast.filter(pl.col("level").is_in(["family", "sku"]))
    if rows.is_empty():
        return pl.DataFrame(schema={"level": pl.String, "family": pl.String, "sku": pl.String, "month": pl.Date,
                                    **{c: pl.Float64 for c in SAFETY_STOCK_COLUMNS[4:]}})
    if accuracy is not None and not accuracy.is_empty():
        wape = (accuracy.filter(pl.col("method") == "chosen")
                .group_by(["level", "series_key"]).agg(pl.col("wape").max().alias("wape")))
        rows = rows.join(wape, on=["level", "series_key"], how="left")
    else:
        rows = rows.with_columns(wape=pl.lit(None, pl.Float64))
    half = pl.max_horizontal((pl.col("yhat_upper") - pl.col("yhat_lower")) / 2, pl.col("yhat_upper") - pl.col("yhat"))
    out = rows.with_columns(
        sigma_band=pl.max_horizontal(half, pl.lit(0.0)) / z_band,
        sigma_backtest=math.sqrt(math.pi / 2) * pl.col("wape") * pl.max_horizontal(pl.col("yhat"), pl.lit(0.0)),
    ).with_columns(
        sigma=pl.max_horizontal("sigma_band", "sigma_backtest"),  # nulls are ignored
    ).with_columns(
        safety_stock=z_service * pl.col("sigma"),
        family=pl.when(pl.col("level") == "family").then(pl.coalesce("family", "series_key")).otherwise("family"),
        sku=pl.when(pl.col("level") == "sku").then(pl.coalesce("sku", "series_key")).otherwise(None),
    )
    sku_total = (out.filter(pl.col("level") == "sku").group_by("family", "month")
                 .agg(pl.col("safety_stock").sum().alias("sku_safety_stock")))
    out = (out.join(sku_total, on=["family", "month"], how="left")
           .with_columns(safety_stock=pl.when(pl.col("level") == "family")
                         .then(pl.max_horizontal("safety_stock", "sku_safety_stock"))
                         .otherwise(pl.col("safety_stock"))))
    return out.select(SAFETY_STOCK_COLUMNS).sort(["level", "family", "sku", "month"], nulls_last=True)


# ----------------------------------------------------------------------------------------------
# Problems

def _horizon(demand_plan: pl.DataFrame) -> list[date]:
    if demand_plan.is_empty():
        raise InputDataError("The demand plan has no rows, so there is nothing to plan", where="draft.demand_plan",
                             fix="Check the forecast and demand-plan stages of this cycle")
    return sorted(demand_plan["month"].unique().to_list())


def _family_demand(demand_plan: pl.DataFrame) -> pl.DataFrame:
    """Planned units and revenue per family and month, every horizon month present (0 where absent)."""
    months = pl.DataFrame({"month": _horizon(demand_plan)})
    families = demand_plan.select("family").unique()
    grid = families.join(months, how="cross")
    # Without prices (no revenue in the sales history) revenue stays null, not 0: a margin of minus the cost
    # would be a figure nobody has.
    priced = "planned_revenue" in demand_plan.columns and demand_plan["planned_revenue"].count() > 0
    sums = demand_plan.group_by(["family", "month"]).agg(
        pl.col("planned_units").fill_null(0).sum().alias("planned_units"),
        pl.col("planned_revenue").fill_null(0).sum().alias("planned_revenue")
        if priced else pl.lit(None, pl.Float64).alias("planned_revenue"),
    )
    return (grid.join(sums, on=["family", "month"], how="left")
            .with_columns(pl.col("planned_units").fill_null(0.0),
                          pl.col("planned_revenue").fill_null(0.0) if priced else pl.col("planned_revenue"))
            .sort(["family", "month"]))


def sum_or_null(column: str) -> pl.Expr:
    """The column's sum, null (not 0) where every value is null (a margin without revenue)."""
    return pl.when(pl.col(column).count() > 0).then(pl.col(column).sum()).alias(column)


def family_problems(demand_plan: pl.DataFrame, planning: PlanningSettings,
                    safety_stocks: pl.DataFrame | None = None) -> dict[str, Problem]:
    """One aggregate-planning problem per family of the demand plan, in family order.

    Periods are the demand plan's months (name YYYY-MM, demand = the family's planned units,
    working_days = weekdays of the month, safety_stock = the family's safety stock that month, 0
    where none). Parameters: `planning.defaults` with `planning.families[F]` on top; errors name
    the key the planner wrote. A family configured in `planning.families` but absent from the
    demand plan is a SettingsError (a typo would otherwise silently plan it with the defaults).
    """
    family_demand = _family_demand(demand_plan)
    families = sorted(family_demand["family"].unique().to_list())
    unknown = sorted(set(planning.families) - set(families))
    if unknown:
        raise SettingsError(
            f"planning.families configures {', '.join(map(repr, unknown))}, which the demand plan does not have "
            f"(its families: {', '.join(families)})",
            where="planning.families." + unknown[0],
            fix="Correct the family name (names are case-sensitive) or remove its section")
    ss = {}
    if safety_stocks is not None and not safety_stocks.is_empty():
        fam_ss = safety_stocks.filter(pl.col("level") == "family")
        ss = {(f, m): v for f, m, v in fam_ss.select("family", "month", "safety_stock").iter_rows()}
    problems = {}
    for family, rows in family_demand.group_by("family", maintain_order=True):
        name = family[0]
        periods = [{"name": month_label(m), "demand": float(d), "working_days": working_days(m),
                    "safety_stock": float(ss.get((name, m)) or 0.0)}
                   for m, d in rows.select("month", "planned_units").iter_rows()]
        overrides = planning.families.get(name)
        params = merge_params(planning.defaults, overrides)
        problems[name] = problem_from_settings(params, periods, family=name, overrides=overrides)
    return dict(sorted(problems.items()))


# ----------------------------------------------------------------------------------------------
# Strategies

@dataclass
class SupplyPlans:
    """Every strategy's family plans, the strategies that have none, and the chosen strategy."""

    chosen_strategy: str
    results: dict[str, dict[str, PlanResult]]                           # strategy -> family -> plan
    infeasible: dict[str, dict[str, str]] = field(default_factory=dict)  # strategy -> family -> reason
    starting_workforce: dict[str, float] = field(default_factory=dict)   # family -> workers before the horizon

    @property
    def chosen(self) -> dict[str, PlanResult]:
        return self.results[self.chosen_strategy]

    @property
    def production_plan(self) -> pl.DataFrame:
        return production_plan_frame(self.results)

    @property
    def strategy_comparison(self) -> pl.DataFrame:
        return strategy_comparison_frame(self)


def _per_family(problems: dict[str, Problem], strategy: str,
                planning: PlanningSettings) -> tuple[dict[str, PlanResult], dict[str, PlanningError]]:
    """Level or chase plans, family by family; the impossible ones as reasons instead of plans."""
    results, infeasible = {}, {}
    for name, problem in problems.items():
        try:
            results[name] = plan(problem, strategy)
        except PlanningError as exc:
            infeasible[name] = exc
    if (planning.shared_capacity is not None or planning.resources) and results:
        try:  # together they may need more plant hours than the shared capacity, or work-centre hours
            plan_families({n: problems[n] for n in results}, strategy, planning.shared_capacity,
                          work_centres(planning, {n: problems[n] for n in results}), limits=planning.solver.limits)
        except PlanningError as exc:
            infeasible.update({n: exc for n in results})
            results = {}
    return results, infeasible


def work_centres(planning: PlanningSettings, problems: dict[str, Problem]):
    """`planning.resources` as model arrays for these families (None without work centres)."""
    if not planning.resources or not problems:
        return None
    return resource_limits(planning.resources, list(problems), next(iter(problems.values())).period_names)


def solve_strategies(problems: dict[str, Problem], planning: PlanningSettings,
                     log: Callable[[str], None] | None = None) -> SupplyPlans:
    """Level, chase and optimal plans for every family (optimal families solved together, sharing
    `planning.shared_capacity` and the work centres of `planning.resources`). Raises PlanningError
    when the optimal or the chosen strategy has no plan for some family; see the module docstring."""
    log = log or (lambda _message: None)
    check_resource_families(planning.resources, list(problems))
    results: dict[str, dict[str, PlanResult]] = {}
    infeasible: dict[str, dict[str, str]] = {}
    for strategy in STRATEGIES:
        if strategy == "optimal":
            log(f"Solving the optimal plans of {len(problems)} families together (CVXPY/HiGHS)")
            results[strategy] = plan_families(problems, "optimal", planning.shared_capacity,
                                              work_centres(planning, problems), limits=planning.solver.limits)
            solver = next(iter(results[strategy].values())).solver if results[strategy] else {}
            gap = solver.get("mip_gap")
            log(f"Optimal plans: {solver.get('status')} in {solver.get('solve_seconds') or 0:.2f}s solve, "
                f"{solver.get('build_seconds') or 0:.2f}s build, gap reached "
                f"{'n/a' if gap is None else f'{gap:.2e}'} (limit {planning.solver.mip_gap:g}, "
                f"{planning.solver.time_limit_seconds:g} s)")
            continue
        results[strategy], errors = _per_family(problems, strategy, planning)
        for name, exc in errors.items():
            if strategy == planning.strategy:
                raise PlanningError(f"The chosen strategy has no plan for family {name}: {exc.what}",
                                    where=f"{exc.where}; planning.strategy = {strategy}", fix=exc.fix)
            log(f"No {strategy} plan for {name}: {exc.message}")
        infeasible[strategy] = {name: exc.message for name, exc in errors.items()}
    plans = SupplyPlans(planning.strategy, results, infeasible,
                        {name: p.workforce.initial for name, p in problems.items()})
    if errors := objective_errors(plans.strategy_comparison):  # an invariant: fail loudly, publish nothing
        raise PlanningError("; ".join(errors), where="optimal plan",
                            fix="Report this problem: the model and the reported costs disagree")
    return plans


def production_plan_frame(results: dict[str, dict[str, PlanResult]]) -> pl.DataFrame:
    """PRODUCTION_COLUMNS, one row per family, strategy and month, for every plan there is."""
    frames = []
    for strategy, by_family in results.items():
        for family, result in by_family.items():
            frame = pl.from_pandas(result.periods)
            frames.append(frame.with_columns(
                family=pl.lit(family), strategy=pl.lit(strategy),
                month=pl.col("period").str.to_date("%Y-%m"),
            ).select(PRODUCTION_COLUMNS))
    if not frames:
        return pl.DataFrame(schema={c: (pl.String if c in ("family", "strategy") else pl.Date if c == "month"
                                        else pl.Float64) for c in PRODUCTION_COLUMNS})
    return pl.concat(frames).with_columns(pl.col(PRODUCTION_COLUMNS[3:]).cast(pl.Float64)).sort(
        ["family", "strategy", "month"])


def strategy_comparison_frame(plans: SupplyPlans) -> pl.DataFrame:
    """COMPARISON_COLUMNS, one row per family and strategy, impossible strategies included."""
    rows = []
    for strategy in STRATEGIES:
        for family, result in plans.results.get(strategy, {}).items():
            workforce = result.periods["workforce"]
            rows.append({"family": family, "strategy": strategy, "total_cost": result.total_cost,
                         **result.cost_breakdown, "safety_stock_penalty": result.safety_stock_penalty,
                         "units_short": result.units_short, "solver_status": result.status,
                         "minimises": MINIMISES[strategy],
                         "solver_objective": result.solver.get("objective") if strategy == "optimal" else None,
                         "mip_gap": result.solver.get("mip_gap") if strategy == "optimal" else None,
                         "starting_workforce": plans.starting_workforce.get(family),
                         "ending_workforce": float(workforce.iloc[-1])})
        for family, reason in plans.infeasible.get(strategy, {}).items():
            rows.append({"family": family, "strategy": strategy, "solver_status": f"infeasible: {reason}",
                         "minimises": MINIMISES[strategy], "starting_workforce": plans.starting_workforce.get(family)})
    schema = {c: pl.Float64 for c in COMPARISON_COLUMNS}
    schema.update(family=pl.String, strategy=pl.String, solver_status=pl.String, chosen=pl.Boolean,
                  minimises=pl.String)
    derived = ("chosen", "cost_with_safety_stock_penalty")
    frame = pl.DataFrame(rows, schema={k: v for k, v in schema.items() if k not in derived})
    # total_cost is cash; the optimal plan minimises cash plus the penalty for months below safety stock,
    # so this is the column on which optimal is never dearer than level or chase.
    return (frame.with_columns(chosen=pl.col("strategy") == plans.chosen_strategy,
                               cost_with_safety_stock_penalty=pl.col("total_cost") + pl.col("safety_stock_penalty"))
            .select(COMPARISON_COLUMNS).sort(["family", "strategy"]))


def strategy_totals_line(comparison: pl.DataFrame) -> str:
    """The console's one line: each strategy's cash + penalty over the families it has a plan for, how many
    of them that is, and why the others have none (an impossible strategy is never a 0 cost)."""
    n = comparison["family"].n_unique()
    parts = []
    for strategy in STRATEGIES:
        rows = comparison.filter(pl.col("strategy") == strategy)
        planned = rows.filter(pl.col("total_cost").is_not_null())
        if planned.is_empty():
            reason = rows["solver_status"].drop_nulls().head(1).to_list()
            parts.append(f"{strategy} impossible for all {n} families"
                         + (f" ({reason[0].removeprefix('infeasible: ')})" if reason else ""))
            continue
        total = planned["cost_with_safety_stock_penalty"].sum()
        parts.append(f"{strategy} {total:,.0f}" + ("" if planned.height == n else
                                                   f" ({planned.height} of {n} families; impossible for "
                                                   + ", ".join(sorted(set(rows["family"]) - set(planned["family"])))
                                                   + ")"))
    return "Total cash + safety-stock penalty by strategy: " + "; ".join(parts)


def cost_comparison(comparison: pl.DataFrame) -> pl.DataFrame:
    """Total cost per family (rows) and strategy (columns), for a planner's side-by-side view."""
    return (comparison.pivot(on="strategy", index="family", values="total_cost")
            .select(["family", *[s for s in STRATEGIES if s in comparison["strategy"].unique().to_list()]])
            .sort("family"))


# ----------------------------------------------------------------------------------------------
# Inventory plan per SKU

def _chosen_rows(production_plan: pl.DataFrame, strategy: str | None) -> pl.DataFrame:
    rows = production_plan if strategy is None else production_plan.filter(pl.col("strategy") == strategy)
    return rows.sort(["family", "month"])


def _shares(weights: np.ndarray) -> np.ndarray:
    """Weights as shares summing to one (equal shares where every weight is zero)."""
    total = weights.sum()
    return weights / total if total > 0 else np.full(len(weights), 1.0 / len(weights))


def inventory_plan(demand_plan: pl.DataFrame, production_plan: pl.DataFrame, problems: dict[str, Problem],
                   safety_stocks: pl.DataFrame | None = None, strategy: str | None = None) -> pl.DataFrame:
    """The chosen family plans split to SKUs: INVENTORY_COLUMNS per family, SKU and month.

    - Initial family inventory (and backlog) goes to SKUs by their share of the family's demand
      in the first INITIAL_SPLIT_MONTHS months (the stock on hand serves the near term).
    - Each month the family's production (regular + overtime + subcontracted) goes to SKUs in
      proportion to their need, max(0, demand + safety stock - net beginning inventory), where
      the net beginning inventory is the beginning inventory less the backlog carried in; when no
      SKU needs anything, by their share of the month's demand.
    - Per SKU and month: beginning_inventory - beginning_backlog + production - demand
      = ending_inventory - backlog, and beginning = the previous month's ending.
    - Production, demand and net stock (ending - backlog) of the SKUs add up to the family plan.
      Ending inventory and backlog add up too unless one SKU runs short while another holds more
      than it needs (stock of one SKU cannot fill another's orders: the SKU rows say so).
    - months_of_supply = ending inventory / average demand of the next COVER_MONTHS months (null
      in the last month or when no demand follows).
    `production_plan`: PRODUCTION_COLUMNS rows; `strategy` selects the chosen one (None: all rows
    are the chosen plan). `safety_stocks`: the `safety_stock` frame (SKU rows are used).
    """
    chosen = _chosen_rows(production_plan, strategy)
    months = _horizon(demand_plan)
    sku_ss = {}
    if safety_stocks is not None and not safety_stocks.is_empty():
        sku_rows = safety_stocks.filter(pl.col("level") == "sku")
        sku_ss = {(s, m): v for s, m, v in sku_rows.select("sku", "month", "safety_stock").iter_rows()}
    sku_demand = demand_plan.group_by(["family", "sku", "month"]).agg(pl.col("planned_units").fill_null(0).sum())
    frames = []
    for (family,), rows in sku_demand.group_by("family", maintain_order=True):
        if family not in problems:
            raise PlanningError(f"The demand plan has family {family} but there is no production plan for it",
                                where=f"family {family}", fix="Rerun the production-plan stage")
        plan_rows = chosen.filter(pl.col("family") == family)
        if plan_rows.height != len(months):
            raise PlanningError(f"The production plan of family {family} has {plan_rows.height} months, "
                                f"the demand plan {len(months)}", where=f"family {family}",
                                fix="Rerun the production-plan stage")
        skus = sorted(rows["sku"].unique().to_list())
        index = {(s, m): u for s, m, u in rows.select("sku", "month", "planned_units").iter_rows()}
        demand = np.array([[index.get((s, m), 0.0) for m in months] for s in skus], dtype=float)
        ss = np.array([[float(sku_ss.get((s, m)) or 0.0) for m in months] for s in skus], dtype=float)
        production = (plan_rows["regular_units"] + plan_rows["overtime_units"] + plan_rows["subcontract_units"]
                      ).to_numpy()
        inv = problems[family].inventory
        net = _shares(demand[:, :INITIAL_SPLIT_MONTHS].sum(axis=1) if demand[:, :INITIAL_SPLIT_MONTHS].any()
                      else demand.sum(axis=1)) * (inv.initial - inv.initial_backlog)
        begin, made = np.zeros_like(demand), np.zeros_like(demand)
        for t in range(len(months)):
            begin[:, t] = net
            need = np.maximum(demand[:, t] + ss[:, t] - net, 0.0)
            made[:, t] = production[t] * (need / need.sum() if need.sum() > TOLERANCE else _shares(demand[:, t]))
            net = net + made[:, t] - demand[:, t]
        ending_net = begin + made - demand
        cum = np.cumsum(demand[:, ::-1], axis=1)[:, ::-1]  # demand from each month to the horizon's end
        ahead = np.zeros_like(demand)
        count = np.zeros(len(months))
        for t in range(len(months)):  # average demand of the next COVER_MONTHS months
            stop = min(t + 1 + COVER_MONTHS, len(months))
            count[t] = stop - (t + 1)
            if count[t]:
                ahead[:, t] = (cum[:, t + 1] - (cum[:, stop] if stop < len(months) else 0.0)) / count[t]
        ending = clean_solver_noise(np.maximum(ending_net, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where((ahead > TOLERANCE) & (count > 0), ending / np.where(ahead > TOLERANCE, ahead, 1.0), np.nan)
        n_sku, n_month = demand.shape
        frames.append(pl.DataFrame({
            "family": [family] * (n_sku * n_month),
            "sku": np.repeat(np.asarray(skus, dtype=object), n_month).tolist(),
            "month": months * n_sku,
            "beginning_inventory": clean_solver_noise(np.maximum(begin, 0.0)).ravel(),
            "beginning_backlog": clean_solver_noise(np.maximum(-begin, 0.0)).ravel(),
            "production": clean_solver_noise(made).ravel(),
            "demand": demand.ravel(),
            "ending_inventory": ending.ravel(),
            "backlog": clean_solver_noise(np.maximum(-ending_net, 0.0)).ravel(),
            "safety_stock": ss.ravel(),
            "months_of_supply": cover.ravel(),
        }, schema_overrides={"month": pl.Date}).with_columns(pl.col("months_of_supply").fill_nan(None)))
    return pl.concat(frames).select(INVENTORY_COLUMNS).sort(["family", "sku", "month"])


# ----------------------------------------------------------------------------------------------
# Operating plan

def operating_plan(production_plan: pl.DataFrame, demand_plan: pl.DataFrame,
                   strategy: str | None = None) -> pl.DataFrame:
    """People, hours and money per family and month, plus an all-families total (family 'ALL FAMILIES').

    Every cost is the chosen production plan's own cost column (so the money matches it to the
    cent); labor_cost = regular labour + overtime + hiring + layoff cost; planned units and revenue
    come from the demand plan; gross_margin = planned_revenue - total_cost (both null without revenue).
    """
    chosen = _chosen_rows(production_plan, strategy)
    demand = _family_demand(demand_plan)
    per_family = chosen.join(demand, on=["family", "month"], how="left").with_columns(
        headcount=pl.col("workforce"),
        labor_cost=pl.sum_horizontal(LABOR_COST_COLUMNS),
        planned_units=pl.col("planned_units").fill_null(0.0),
    ).with_columns(gross_margin=pl.col("planned_revenue") - pl.col("total_cost")).select(OPERATING_COLUMNS)
    money = ("planned_revenue", "gross_margin")  # null without revenue, in the total too
    total = (per_family.group_by("month").agg(pl.col([c for c in OPERATING_COLUMNS[2:] if c not in money]).sum(),
                                              *(sum_or_null(c) for c in money))
             .with_columns(family=pl.lit(ALL_FAMILIES)).select(OPERATING_COLUMNS))
    return pl.concat([per_family.sort(["family", "month"]), total.sort("month")])


# ----------------------------------------------------------------------------------------------
# Checks (each returns the problems found, empty when the table holds)

def _first(frame: pl.DataFrame, limit: int = 3) -> str:
    return "; ".join(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                     for row in frame.head(limit).iter_rows(named=True))


def production_balance_errors(production_plan: pl.DataFrame, problems: dict[str, Problem]) -> list[str]:
    """Inventory balance in every family, strategy and month of the production plan:
    (ending - backlog)_t = (ending - backlog)_{t-1} + regular + overtime + subcontract - demand_t."""
    if production_plan.is_empty():
        return ["the production plan has no rows"]
    initial = pl.DataFrame({"family": list(problems),
                            "initial_net": [p.inventory.initial - p.inventory.initial_backlog for p in problems.values()]})
    net = pl.col("ending_inventory") - pl.col("backlog")
    frame = (production_plan.sort(["family", "strategy", "month"]).join(initial, on="family", how="left")
             .with_columns(net=net)
             .with_columns(previous=pl.col("net").shift(1).over(["family", "strategy"]))
             .with_columns(previous=pl.coalesce("previous", "initial_net"))
             .with_columns(gap=pl.col("previous") + pl.col("regular_units") + pl.col("overtime_units")
                           + pl.col("subcontract_units") - pl.col("demand") - pl.col("net")))
    bad = frame.filter((pl.col("gap").abs() > TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col("demand").abs()))
                       | pl.col("gap").is_null())
    return [f"{bad.height} family-strategy-months do not balance: "
            + _first(bad.select("family", "strategy", "month", "gap"))] if bad.height else []


def limit_errors(production_plan: pl.DataFrame, problems: dict[str, Problem],
                 shared_capacity: float | None) -> list[str]:
    """Overtime per worker, workforce bounds, subcontract limit and shared plant hours in every plan."""
    limits = pl.DataFrame({
        "family": list(problems),
        "ot_max": [p.production.max_overtime_hours_per_worker for p in problems.values()],
        "w_min": [p.workforce.min for p in problems.values()],
        "w_max": [p.workforce.max for p in problems.values()],
        "sub_max": [p.production.max_subcontract_units for p in problems.values()],
    }, schema={"family": pl.String, "ot_max": pl.Float64, "w_min": pl.Float64, "w_max": pl.Float64,
               "sub_max": pl.Float64})
    frame = production_plan.join(limits, on="family", how="left")
    slack = TOLERANCE * 100
    tests = {
        "overtime above max_overtime_hours_per_worker x workforce":
            pl.col("overtime_hours") > pl.col("ot_max") * pl.col("workforce") + slack,
        "workforce below workforce.min": pl.col("workforce") < pl.col("w_min") - slack,
        "workforce above workforce.max": pl.col("workforce") > pl.col("w_max") + slack,
        "subcontracting above max_subcontract_units": pl.col("subcontract_units") > pl.col("sub_max") + slack,
        "negative quantities": pl.min_horizontal("workforce", "regular_units", "overtime_units", "subcontract_units",
                                                 "ending_inventory", "backlog", "idle_hours") < -slack,
    }
    errors = []
    for what, condition in tests.items():
        bad = frame.filter(condition.fill_null(False))
        if bad.height:
            errors.append(f"{what} in {bad.height} rows: " + _first(bad.select("family", "strategy", "month")))
    if shared_capacity is not None and not production_plan.is_empty():
        used = (production_plan.group_by(["strategy", "month"])
                .agg((pl.col("regular_hours") - pl.col("idle_hours") + pl.col("overtime_hours")).sum().alias("hours"))
                .filter(pl.col("hours") > shared_capacity * (1 + TOLERANCE) + slack).sort(["strategy", "month"]))
        if used.height:
            errors.append(f"plant hours above planning.shared_capacity ({shared_capacity:,g}) in {used.height} "
                          "strategy-months: " + _first(used))
    return errors


def inventory_plan_errors(inventory: pl.DataFrame, production_plan: pl.DataFrame,
                          strategy: str | None = None) -> list[str]:
    """Per SKU: balance every month and beginning = previous ending; per family: SKUs sum to the plan."""
    if inventory.is_empty():
        return ["the inventory plan has no rows"]
    errors = []
    inv = inventory.sort(["family", "sku", "month"]).with_columns(
        gap=pl.col("beginning_inventory") - pl.col("beginning_backlog") + pl.col("production") - pl.col("demand")
        - (pl.col("ending_inventory") - pl.col("backlog")),
        carry=(pl.col("beginning_inventory") - pl.col("beginning_backlog"))
        - (pl.col("ending_inventory") - pl.col("backlog")).shift(1).over(["family", "sku"]),
    )
    tol = TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col("demand").abs() + pl.col("production").abs())
    if (bad := inv.filter(pl.col("gap").abs() > tol)).height:
        errors.append(f"{bad.height} SKU-months do not balance: " + _first(bad.select("family", "sku", "month", "gap")))
    if (bad := inv.filter(pl.col("carry").abs() > tol)).height:
        errors.append(f"{bad.height} SKU-months do not begin with the previous ending: "
                      + _first(bad.select("family", "sku", "month", "carry")))
    sums = inventory.group_by(["family", "month"]).agg(
        pl.col("production").sum(), pl.col("demand").sum(),
        (pl.col("ending_inventory") - pl.col("backlog")).sum().alias("net"))
    family = _chosen_rows(production_plan, strategy).select(
        "family", "month", (pl.col("regular_units") + pl.col("overtime_units") + pl.col("subcontract_units"))
        .alias("plan_production"), pl.col("demand").alias("plan_demand"),
        (pl.col("ending_inventory") - pl.col("backlog")).alias("plan_net"))
    joined = family.join(sums, on=["family", "month"], how="full", coalesce=True)
    for column in ("production", "demand", "net"):
        diff = (pl.col(column) - pl.col(f"plan_{column}")).abs()
        bad = joined.filter(diff.is_null() | (diff > TOLERANCE * pl.max_horizontal(pl.lit(1.0), pl.col(f"plan_{column}").abs())))
        if bad.height:
            errors.append(f"SKU {column} does not add up to the family plan in {bad.height} family-months: "
                          + _first(bad.select("family", "month", column, f"plan_{column}")))
    return errors


def objective_errors(comparison: pl.DataFrame) -> list[str]:
    """The optimal model's objective equals the reported cost of its plans, cash + safety-stock penalty
    recomputed from net stock, to TOLERANCE relative (the optimal plan is the optimum of what is reported).
    Every optimal row carries the objective of all its families together, so it is compared with their sum."""
    rows = comparison.filter((pl.col("strategy") == "optimal") & pl.col("solver_objective").is_not_null())
    if rows.is_empty():
        return []
    objective = float(rows["solver_objective"][0])
    reported = float(rows["cost_with_safety_stock_penalty"].sum())
    if abs(objective - reported) > TOLERANCE * max(1.0, abs(reported)):
        return [f"the optimal model's objective {objective:,.2f} differs from the reported cash + safety-stock "
                f"penalty of its plans {reported:,.2f} (by {objective - reported:+,.2f})"]
    return []


def operating_money_errors(operating: pl.DataFrame, production_plan: pl.DataFrame,
                           strategy: str | None = None) -> list[str]:
    """Every cost column of the operating plan equals the chosen production plan's, to the cent, per
    family and month and in the all-families total."""
    chosen = _chosen_rows(production_plan, strategy)
    costs = [*COST_COLUMNS, "total_cost"]
    errors = []
    per_family = operating.filter(pl.col("family") != ALL_FAMILIES).join(
        chosen.select("family", "month", *costs), on=["family", "month"], how="full", suffix="_plan", coalesce=True)
    totals = operating.filter(pl.col("family") == ALL_FAMILIES).join(
        chosen.group_by("month").agg(pl.col(costs).sum()), on="month", how="full", suffix="_plan", coalesce=True)
    for label, frame in (("family", per_family), (ALL_FAMILIES, totals)):
        for column in costs:
            diff = (pl.col(column) - pl.col(f"{column}_plan")).abs()
            bad = frame.filter(diff.is_null() | (diff >= _CENT))
            if bad.height:
                errors.append(f"{column} ({label} rows) differs from the production plan in {bad.height} months: "
                              + _first(bad.select("month", column, f"{column}_plan")))
    labor = operating.filter((pl.col("labor_cost") - pl.sum_horizontal(LABOR_COST_COLUMNS)).abs() >= _CENT)
    if labor.height:
        errors.append(f"labor_cost is not the sum of its parts in {labor.height} rows")
    return errors


def planning_inputs(demand_plan: pl.DataFrame, forecast: pl.DataFrame, accuracy: pl.DataFrame | None,
                    planning: PlanningSettings, interval_width: float) -> tuple[pl.DataFrame, dict[str, Problem]]:
    """The safety stocks and the family problems of a cycle (what every planning table starts from)."""
    stocks = safety_stock(forecast, accuracy, planning.service_level, interval_width)
    return stocks, family_problems(demand_plan, planning, stocks)
