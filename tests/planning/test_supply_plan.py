"""The supply-plan core: working days, safety stock, family problems, strategies, inventory and operating plans."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
import yaml

from sop_pipeline.common.errors import PlanningError, SettingsError
from sop_pipeline.config.loading import DEMO_SETTINGS
from sop_pipeline.config.schema import PlanningSettings
from sop_pipeline.supply import STRATEGIES
from sop_pipeline.supply.invariants import inventory_plan_errors, limit_errors, operating_money_errors, production_balance_errors
from sop_pipeline.supply.operating_plan import operating_plan
from sop_pipeline.supply.problems import family_problems, planning_inputs, working_days
from sop_pipeline.supply.safety_stock import safety_stock
from sop_pipeline.supply.sku_split import inventory_plan
from sop_pipeline.supply.solve import solve_strategies
from sop_pipeline.supply.tables import ALL_FAMILIES
from tests.support.files import PROJECT_ROOT
from tests.support.planning_cases import DEMO_FAMILIES, seasonal_inputs

RED_TOMATO = PROJECT_ROOT / "assets" / "examples" / "red_tomato.yaml"
Z95 = 1.6448536269514722     # standard normal quantile of 0.95 (tables: 1.645)
Z80_TWO_SIDED = 1.2815515655446004  # quantile of 0.90: an 80 % band is yhat +- 1.2816 sigma


def demo_planning(only: list[str] | None = None, **changes) -> PlanningSettings:
    """The demo's planning section without its work centres; `only` keeps the overrides of those families."""
    data = yaml.safe_load(DEMO_SETTINGS.read_text())["planning"]
    data["resources"] = []  # the demo's work centres are tested in tests/planning/test_work_centres.py
    if only is not None:
        data["families"] = {k: v for k, v in data["families"].items() if k in only}
    data.update(changes)
    return PlanningSettings.model_validate(data)


@pytest.fixture(scope="module")
def demo_run():
    """Every strategy for the demo's six families on a seasonal year, and the tables built from it."""
    demand_plan, forecast = seasonal_inputs(DEMO_FAMILIES)
    planning = demo_planning()
    stocks, problems = planning_inputs(demand_plan, forecast, None, planning, 0.8)
    plans = solve_strategies(problems, planning)
    production = plans.production_plan
    return {
        "demand_plan": demand_plan, "stocks": stocks, "problems": problems, "plans": plans,
        "production": production, "comparison": plans.strategy_comparison,
        "inventory": inventory_plan(demand_plan, production, problems, stocks, "optimal"),
        "operating": operating_plan(production, demand_plan, "optimal"),
    }


# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("month, expected", [
    (date(2026, 1, 1), 22),   # starts on a Thursday: 4 weeks + Thu, Fri
    (date(2026, 8, 1), 21),   # starts on a Saturday: 4 weeks + Mon
    (date(2027, 2, 1), 20),   # 28 days: exactly 4 weeks
    (date(2028, 2, 1), 21),   # leap year, starts on a Tuesday: 4 weeks + Tue
    (date(2026, 12, 15), 23),  # any day names its month; December rolls into the next year
])
def test_working_days_are_the_weekdays_of_the_month(month, expected):
    assert working_days(month) == expected


def _forecast_row(level, key, yhat, lower, upper, month=date(2027, 1, 1)):
    return {"level": level, "series_key": key, "family": key if level == "family" else "F",
            "sku": key if level == "sku" else None, "month": month, "method": "prophet",
            "yhat": yhat, "yhat_lower": lower, "yhat_upper": upper}


def test_safety_stock_from_the_band_by_hand():
    # An 80 % band of +-50 units is sigma = 50 / 1.2816 = 39.01; at 95 % service SS = 1.6449 x 39.01 = 64.17.
    forecast = pl.DataFrame([_forecast_row("family", "F", 100.0, 50.0, 150.0)])
    stocks = safety_stock(forecast, None, 0.95, 0.8)
    assert stocks["sigma"][0] == pytest.approx(50 / Z80_TWO_SIDED)
    assert stocks["safety_stock"][0] == pytest.approx(Z95 * 50 / Z80_TWO_SIDED)
    assert stocks["safety_stock"][0] == pytest.approx(64.17, abs=0.01)


def test_safety_stock_reads_the_unfloored_band_width():
    # The lower edge was floored at zero (yhat 20, true half-width 50): the upper half-width is used.
    forecast = pl.DataFrame([_forecast_row("sku", "S1", 20.0, 0.0, 70.0)])
    stocks = safety_stock(forecast, None, 0.95, 0.8)
    assert stocks["sigma_band"][0] == pytest.approx(50 / Z80_TWO_SIDED)
    assert stocks["sku"][0] == "S1" and stocks["family"][0] == "F"


def test_safety_stock_uses_the_backtest_error_where_larger():
    forecast = pl.DataFrame([_forecast_row("family", "F", 100.0, 50.0, 150.0),
                             _forecast_row("family", "G", 100.0, 50.0, 150.0)])
    accuracy = pl.DataFrame({"level": ["family", "family", "family"], "series_key": ["F", "F", "G"],
                             "method": ["chosen", "seasonal_naive", "chosen"], "wape": [0.5, 0.9, 0.1]})
    stocks = safety_stock(forecast, accuracy, 0.95, 0.8).sort("family")
    # F: WAPE 50 % of 100 units is a mean absolute error of 50 = sigma x sqrt(2/pi): sigma = 62.67 > 39.01.
    assert stocks["sigma_backtest"][0] == pytest.approx(50 * math.sqrt(math.pi / 2))
    assert stocks["sigma"][0] == pytest.approx(50 * math.sqrt(math.pi / 2))
    # G: the backtest error (12.5) is smaller than the band's, which stays.
    assert stocks["sigma"][1] == pytest.approx(50 / Z80_TWO_SIDED)


def test_family_safety_stock_holds_its_skus_buffers():
    # The family's own band (+-20) pools its SKUs' errors; its SKUs (+-50 each) need 2 x 64.17 between them.
    forecast = pl.DataFrame([_forecast_row("family", "F", 200.0, 180.0, 220.0),
                             _forecast_row("sku", "S1", 100.0, 50.0, 150.0),
                             _forecast_row("sku", "S2", 100.0, 50.0, 150.0)])
    stocks = safety_stock(forecast, None, 0.95, 0.8)
    family = stocks.filter(pl.col("level") == "family")["safety_stock"][0]
    skus = stocks.filter(pl.col("level") == "sku")["safety_stock"].sum()
    assert family == pytest.approx(skus) and family == pytest.approx(2 * 64.17, abs=0.02)


def test_safety_stock_grows_with_service_level():
    _, forecast = seasonal_inputs({"Cookware": 2}, n_months=4)
    levels = [0.8, 0.9, 0.95, 0.99]
    totals = [safety_stock(forecast, None, level, 0.8)["safety_stock"].sum() for level in levels]
    assert all(a < b for a, b in zip(totals, totals[1:]))


def test_safety_stock_rejects_an_impossible_service_level():
    with pytest.raises(SettingsError, match="planning.service_level"):
        safety_stock(pl.DataFrame([_forecast_row("family", "F", 1.0, 0.0, 2.0)]), None, 1.2, 0.8)


# ----------------------------------------------------------------------------------------------

def test_every_family_in_the_demand_plan_gets_a_problem_and_a_plan(demo_run):
    families = sorted(demo_run["demand_plan"]["family"].unique().to_list())
    assert list(demo_run["problems"]) == families
    problem = demo_run["problems"]["Cookware"]
    assert [p.name for p in problem.periods][:2] == ["2027-01", "2027-02"]
    assert problem.periods[0].working_days == 21  # January 2027 starts on a Friday
    assert problem.workforce.initial == 16        # the family's override on top of the defaults
    assert problem.workforce.hours_per_day == 8   # from planning.defaults
    for strategy in STRATEGIES:
        planned = demo_run["production"].filter(pl.col("strategy") == strategy)["family"].unique().sort().to_list()
        assert planned == families, strategy
    assert demo_run["comparison"].height == len(families) * len(STRATEGIES)
    assert demo_run["comparison"].filter(pl.col("chosen"))["strategy"].unique().to_list() == ["optimal"]


def test_family_demand_is_the_sum_of_its_skus(demo_run):
    expected = demo_run["demand_plan"].group_by("family", "month").agg(pl.col("planned_units").sum())
    got = demo_run["production"].filter(pl.col("strategy") == "level").select("family", "month", "demand")
    joined = expected.join(got, on=["family", "month"])
    assert joined.height == expected.height
    np.testing.assert_allclose(joined["demand"], joined["planned_units"])


def test_a_configured_family_missing_from_the_data_is_named():
    demand_plan, _ = seasonal_inputs({"Cookware": 1}, n_months=3)
    planning = demo_planning(families={"Cookware": {}, "Cookwear": {"workforce": {"initial": 3}}})
    with pytest.raises(SettingsError) as err:
        family_problems(demand_plan, planning)
    assert "planning.families.Cookwear" in err.value.message


def test_a_bad_family_override_is_named_by_its_key():
    demand_plan, _ = seasonal_inputs({"Cookware": 1}, n_months=3)
    planning = demo_planning(families={"Cookware": {"production": {"labor_hours_per_unit": -1}}})
    with pytest.raises(SettingsError) as err:
        family_problems(demand_plan, planning)
    assert "planning.families.Cookware.production.labor_hours_per_unit" in err.value.message


def test_red_tomato_through_the_pipeline_costs_the_published_422275():
    # Chopra & Meindl's Red Tomato plan (20 working days a month) as a one-family demand plan: the
    # months chosen all have exactly 20 weekdays. Published optimal cost: $422,275.
    problem = yaml.safe_load(RED_TOMATO.read_text())
    twenty_day_months = [date(2026, 2, 1), date(2027, 2, 1), date(2028, 4, 1), date(2029, 2, 1),
                         date(2029, 9, 1), date(2030, 2, 1)]
    assert all(working_days(m) == 20 for m in twenty_day_months)
    demand_plan = pl.DataFrame({"family": "Tools", "sku": "T1", "month": twenty_day_months,
                                "planned_units": [float(p["demand"]) for p in problem["periods"]],
                                "planned_revenue": 0.0})
    defaults = {k: problem[k] for k in ("workforce", "production", "inventory", "costs")}
    planning = PlanningSettings(strategy="optimal", defaults=defaults)
    plans = solve_strategies(family_problems(demand_plan, planning), planning)
    assert plans.chosen["Tools"].total_cost == pytest.approx(422_275, abs=0.5)
    operating = operating_plan(plans.production_plan, demand_plan, "optimal")
    total = operating.filter(pl.col("family") == ALL_FAMILIES)
    assert round(float(total["total_cost"].sum()), 2) == pytest.approx(422_275, abs=0.5)
    assert round(float(total["gross_margin"].sum()), 2) == pytest.approx(-422_275, abs=0.5)


# ----------------------------------------------------------------------------------------------

def test_the_optimal_plan_never_costs_more_than_level_or_chase(demo_run):
    comparison = demo_run["comparison"].with_columns(
        cost_with_penalty=pl.col("total_cost") + pl.col("safety_stock_penalty"))
    wide = comparison.pivot(on="strategy", index="family", values="cost_with_penalty")
    for row in wide.iter_rows(named=True):
        assert row["optimal"] <= row["level"] + 1e-6 * row["level"], row["family"]
        assert row["optimal"] <= row["chase"] + 1e-6 * row["chase"], row["family"]


def test_with_safety_stock_the_optimal_plan_is_cheapest_in_cash_too(demo_run):
    """Level and chase keep the safety stock (docs/contracts.md, "Aggregate-planning problem"), so on the demo's settings with the
    buffers the service level asks for, the optimal plan never costs more cash than either."""
    comparison = demo_run["comparison"]
    level_chase = comparison.filter(pl.col("strategy") != "optimal")
    assert (level_chase["safety_stock_penalty"] == 0).all()
    wide = comparison.pivot(on="strategy", index="family", values="total_cost")
    for row in wide.iter_rows(named=True):
        assert row["optimal"] <= min(row["level"], row["chase"]) * (1 + 1e-9), row["family"]


def test_without_safety_stock_the_optimal_plan_is_cheapest_in_cash():
    demand_plan, _ = seasonal_inputs(DEMO_FAMILIES, n_months=12)
    planning = demo_planning()
    plans = solve_strategies(family_problems(demand_plan, planning), planning)
    wide = plans.strategy_comparison.pivot(on="strategy", index="family", values="total_cost")
    for row in wide.iter_rows(named=True):
        assert row["optimal"] <= min(row["level"], row["chase"]) * (1 + 1e-9), row["family"]


def test_production_plan_balances_and_holds_its_limits(demo_run):
    assert production_balance_errors(demo_run["production"], demo_run["problems"]) == []
    assert limit_errors(demo_run["production"], demo_run["problems"], None) == []


def test_balance_check_catches_a_broken_row(demo_run):
    broken = demo_run["production"].with_columns(
        ending_inventory=pl.when((pl.col("family") == "Cutlery") & (pl.col("month") == date(2027, 3, 1)))
        .then(pl.col("ending_inventory") + 10).otherwise(pl.col("ending_inventory")))
    errors = production_balance_errors(broken, demo_run["problems"])
    assert errors and "Cutlery" in errors[0]


def test_shared_capacity_holds_across_families():
    demand_plan, forecast = seasonal_inputs({"Cookware": 2, "Cutlery": 2, "Storage": 2}, n_months=6)
    planning = demo_planning(only=["Cookware", "Cutlery", "Storage"], shared_capacity=5_000.0)
    stocks, problems = planning_inputs(demand_plan, forecast, None, planning, 0.8)
    plans = solve_strategies(problems, planning)
    production = plans.production_plan
    assert limit_errors(production, problems, 5_000.0) == []
    # and the check does see a violation: the same plans against a smaller plant
    assert any("shared_capacity" in e for e in limit_errors(production, problems, 100.0))


def test_an_impossible_level_plan_is_recorded_not_fatal():
    demand_plan, _ = seasonal_inputs({"Cookware": 2, "Cutlery": 1}, n_months=6)
    planning = demo_planning(families={"Cookware": {"workforce": {"initial": 2, "max": 2}},
                                       "Cutlery": {"workforce": {"initial": 8, "max": 1000}}})
    problems = family_problems(demand_plan, planning)
    plans = solve_strategies(problems, planning)
    comparison = plans.strategy_comparison
    level = comparison.filter((pl.col("family") == "Cookware") & (pl.col("strategy") == "level"))
    assert level["solver_status"][0].startswith("infeasible: ")
    assert level["total_cost"][0] is None
    assert plans.production_plan.filter((pl.col("family") == "Cookware") & (pl.col("strategy") == "level")).is_empty()
    assert comparison.filter(pl.col("chosen") & (pl.col("solver_status") == "optimal")).height == 2


def test_families_a_work_centre_fails_alike_are_one_console_line_with_their_count():
    """A work centre the level plans of all families overrun fails each for the same reason: the console
    says it once with the families' count (a company with 45 stores read 45 identical lines before)."""
    families = {f"Family {i}": 1 for i in range(8)}
    demand_plan, _ = seasonal_inputs(families, n_months=6)
    planning = demo_planning(only=[], resources=[{"name": "Line", "hours_per_month": 2_000,
                                                  "hours_per_unit": {name: 0.5 for name in families}}])
    lines: list[str] = []
    plans = solve_strategies(family_problems(demand_plan, planning), planning, log=lines.append)
    level = [line for line in lines if line.startswith("No level plan for")]
    assert len(level) == 1 and level[0].startswith("No level plan for 8 families (Family 0, ")
    assert "and 2 more" in level[0] and "Line needs" in level[0]
    impossible = plans.strategy_comparison.filter((pl.col("strategy") == "level") & pl.col("total_cost").is_null())
    assert impossible.height == 8  # every family still shown impossible in the table


def test_an_impossible_chosen_strategy_fails_with_the_planners_reason():
    demand_plan, _ = seasonal_inputs({"Cookware": 2}, n_months=6)
    planning = demo_planning(strategy="level", families={"Cookware": {"workforce": {"initial": 2, "max": 2}}})
    with pytest.raises(PlanningError) as err:
        solve_strategies(family_problems(demand_plan, planning), planning)
    assert "Cookware" in err.value.message and "planning.strategy = level" in err.value.message


# ----------------------------------------------------------------------------------------------

def test_inventory_plan_balances_per_sku_and_sums_to_the_family(demo_run):
    inventory, production = demo_run["inventory"], demo_run["production"]
    assert inventory_plan_errors(inventory, production, "optimal") == []
    # independently of the check: every SKU-month balances and SKUs add up to the family plan
    gap = (inventory["beginning_inventory"] - inventory["beginning_backlog"] + inventory["production"]
           - inventory["demand"] - inventory["ending_inventory"] + inventory["backlog"])
    assert gap.abs().max() < 1e-6
    sums = inventory.group_by("family", "month").agg(pl.col("production").sum(), pl.col("demand").sum(),
                                                     (pl.col("ending_inventory") - pl.col("backlog")).sum().alias("net"))
    family = production.filter(pl.col("strategy") == "optimal").join(sums, on=["family", "month"])
    assert family.height == sums.height
    np.testing.assert_allclose(family["production"],
                               family["regular_units"] + family["overtime_units"] + family["subcontract_units"],
                               atol=1e-6)
    np.testing.assert_allclose(family["demand_right"], family["demand"], atol=1e-6)  # SKU sum vs family
    np.testing.assert_allclose(family["net"], family["ending_inventory"] - family["backlog"], atol=1e-6)


def test_inventory_plan_splits_initial_stock_and_production_by_hand():
    # Family of two SKUs, 1,000 units on hand; first month demand 300 (A) and 100 (B), no safety stock.
    demand_plan = pl.DataFrame({"family": "F", "sku": ["A", "B", "A", "B"],
                                "month": [date(2027, 1, 1)] * 2 + [date(2027, 2, 1)] * 2,
                                "planned_units": [300.0, 100.0, 900.0, 100.0]})
    planning = PlanningSettings(defaults={"workforce": {"initial": 0}, "production": {"labor_hours_per_unit": 1},
                                          "inventory": {"initial": 1000}})
    problems = family_problems(demand_plan, planning)
    production = pl.DataFrame({"family": "F", "strategy": "level", "month": [date(2027, 1, 1), date(2027, 2, 1)],
                               "demand": [400.0, 1000.0], "regular_units": [0.0, 400.0], "overtime_units": 0.0,
                               "subcontract_units": 0.0, "ending_inventory": [600.0, 0.0], "backlog": 0.0})
    inventory = inventory_plan(demand_plan, production, problems, None, "level").sort("month", "sku")
    # The 1,000 units go where they are needed first: January's 300 (A) and 100 (B), then the 600 left
    # toward February's needs (A 900, B 100, which they do not cover) 9:1: A 300 + 540, B 100 + 60.
    assert inventory["beginning_inventory"][:2].to_list() == pytest.approx([840.0, 160.0])
    # February: A needs 900 - 540 = 360, B 100 - 60 = 40: the 400 made cover both.
    assert inventory["production"][2:].to_list() == pytest.approx([360.0, 40.0], abs=1e-6)
    assert inventory["ending_inventory"][2:].to_list() == pytest.approx([0.0, 0.0], abs=1e-6)
    # months of supply in January: A ends with 540 and February's demand is 900.
    assert inventory["months_of_supply"][0] == pytest.approx(540.0 / 900.0)
    assert inventory["months_of_supply"][2] is None  # the last month has no demand after it


# ----------------------------------------------------------------------------------------------

def test_operating_plan_money_equals_the_production_plan_to_the_cent(demo_run):
    operating, production = demo_run["operating"], demo_run["production"]
    assert operating_money_errors(operating, production, "optimal") == []
    chosen = production.filter(pl.col("strategy") == "optimal")
    total = operating.filter(pl.col("family") == ALL_FAMILIES)
    assert round(float(total["total_cost"].sum()), 2) == round(float(chosen["total_cost"].sum()), 2)
    assert round(float(total["labor_cost"].sum()), 2) == round(float(chosen.select(
        pl.sum_horizontal("regular_labor_cost", "overtime_cost", "hiring_cost", "layoff_cost")).sum().item()), 2)
    revenue = float(demo_run["demand_plan"]["planned_revenue"].sum())
    assert float(total["planned_revenue"].sum()) == pytest.approx(revenue)
    assert float(total["gross_margin"].sum()) == pytest.approx(revenue - float(chosen["total_cost"].sum()))
    families = operating.filter(pl.col("family") != ALL_FAMILIES)
    assert families["family"].n_unique() == len(DEMO_FAMILIES)
    assert families["headcount"].to_list() == chosen.sort("family", "month")["workforce"].to_list()


def test_money_check_catches_a_cent(demo_run):
    off = demo_run["operating"].with_columns(
        total_cost=pl.when(pl.col("family") == "Storage").then(pl.col("total_cost") + 0.01)
        .otherwise(pl.col("total_cost")))
    assert operating_money_errors(off, demo_run["production"], "optimal")
