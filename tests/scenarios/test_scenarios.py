"""Scenarios and what-if: demand changes, re-plans with changed planning settings, the KPI comparison, the
Dagster assets and checks, `sop-pipeline what-if` and the bad-input cases."""

from __future__ import annotations

import json
import shutil
from datetime import date

import dagster as dg
import polars as pl
import pytest
import yaml

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.config.loading import DEMO_SETTINGS, parse_settings
from sop_pipeline.config.schema import PlanningSettings, Scenario
from sop_pipeline.defs.resources import plan_resources
from sop_pipeline.defs.scenarios import assets as scenario_assets
from sop_pipeline.defs.scenarios import checks as scenario_checks
from sop_pipeline.defs.store import assets as publish_assets
from sop_pipeline.defs.supply import assets as planning_assets
from sop_pipeline.defs.supply import checks as planning_checks
from sop_pipeline.scenarios import compare
from sop_pipeline.scenarios import plan as sc
from sop_pipeline.store import db
from sop_pipeline.supply.problems import planning_inputs
from sop_pipeline.supply.solve import solve_strategies
from sop_pipeline.supply.tables import ALL_FAMILIES
from tests.support.planning_cases import seasonal_inputs
from tests.support.stages import draft_sources

FAMILIES = {"Cookware": 2, "Cutlery": 2, "Storage": 2}
CYCLE = date(2026, 11, 1)
PARTITION = "2026-11-01"
ALL = ALL_FAMILIES


def planning_section(**changes) -> dict:
    """The demo's planning section for FAMILIES; continuous workers, so every plan is an exact LP optimum."""
    data = yaml.safe_load(DEMO_SETTINGS.read_text())["planning"]
    data["families"] = {k: v for k, v in data["families"].items() if k in FAMILIES}
    data["defaults"]["workforce"]["integer"] = False
    data.pop("resources", None)  # the demo's work centres name families these tests do not plan
    data.update(changes)
    return data


def make_inputs(planning: dict) -> dict:
    """A seasonal demand plan and forecast, and the published (optimal) production plan from them."""
    demand_plan, forecast = seasonal_inputs(FAMILIES, n_months=12, start=CYCLE)
    settings = PlanningSettings.model_validate(planning)
    _stocks, problems = planning_inputs(demand_plan, forecast, None, settings, 0.8)
    production = solve_strategies(problems, settings).production_plan
    return {"demand_plan": demand_plan, "forecast": forecast, "planning": settings, "production": production}


@pytest.fixture(scope="module")
def cycle_inputs():
    return make_inputs(planning_section())


@pytest.fixture(scope="module")
def cash_inputs():
    """As `cycle_inputs` with no safety-stock penalty: the optimal plan then minimises its cash cost alone."""
    planning = planning_section()
    planning["defaults"]["costs"]["safety_stock_shortfall_per_unit"] = 0
    for family in planning["families"].values():
        family.get("costs", {}).pop("safety_stock_shortfall_per_unit", None)
    return make_inputs(planning)


def run_scenarios(inputs, *scenarios: Scenario) -> tuple[list[sc.ScenarioOutcome], pl.DataFrame]:
    outcomes = sc.plan_cycle_scenarios(list(scenarios), inputs["demand_plan"], inputs["forecast"], None,
                                       inputs["production"], inputs["planning"], 0.8)
    return outcomes, compare.comparison_frame(outcomes)


def kpi(comparison: pl.DataFrame, scenario: str, column: str, family: str = ALL):
    return comparison.filter((pl.col("scenario") == scenario) & (pl.col("family") == family))[column].item()


# ----------------------------------------------------------------------------------------------
# Core

def test_demand_up_10_percent_gives_exactly_1_1_times_the_base_planned_units(cycle_inputs):
    outcomes, comparison = run_scenarios(cycle_inputs, Scenario(name="up", demand=[{"percent": 10}]))
    base, up = outcomes[0].plan, outcomes[1].plan
    joined = base.join(up, on=["family", "month"], suffix="_up")
    assert joined.height == base.height == up.height == 3 * 12
    for column in ("planned_units", "planned_revenue"):
        ratio = joined[f"{column}_up"] / joined[column]
        assert (ratio - 1.1).abs().max() < 1e-12, column
    for family in [*FAMILIES, ALL]:
        assert kpi(comparison, "up", "planned_units", family) == pytest.approx(
            1.1 * kpi(comparison, "base", "planned_units", family), rel=1e-12)
        assert kpi(comparison, "up", "planned_units_change", family) == pytest.approx(
            0.1 * kpi(comparison, "base", "planned_units", family), rel=1e-9)
    # more demand with the same plant: more cost, and the plan still covers it
    assert kpi(comparison, "up", "total_cost_change") > 0
    assert compare.balance_errors(sc.plan_frame(outcomes)) == []


def test_demand_changes_apply_only_to_their_family_and_months(cycle_inputs):
    demand_plan = cycle_inputs["demand_plan"]
    changes = Scenario(name="s", demand=[{"family": "Cutlery", "months": "2027-01..2027-03", "percent": -20},
                                         {"family": "Cutlery", "months": "2027-03..2027-03", "percent": 50}]).demand
    changed = sc.apply_demand_changes(demand_plan, changes)
    factor = (changed["planned_units"] / demand_plan["planned_units"]).to_list()
    expected = [0.8 * 1.5 if (f == "Cutlery" and m == date(2027, 3, 1)) else
                0.8 if (f == "Cutlery" and date(2027, 1, 1) <= m <= date(2027, 3, 1)) else 1.0
                for f, m in demand_plan.select("family", "month").iter_rows()]
    assert factor == pytest.approx(expected, rel=1e-12)
    assert (changed["planned_revenue"] / changed["planned_units"]).to_list() == pytest.approx(
        (demand_plan["planned_revenue"] / demand_plan["planned_units"]).to_list())


def test_a_capacity_cut_raises_cost_or_units_short_and_never_lowers_cost(cash_inputs):
    base_outcomes, base_only = run_scenarios(cash_inputs)
    peak = sc.plan_frame(base_outcomes).group_by("month").agg(pl.col("hours_used").sum())["hours_used"].max()
    cuts = [Scenario(name=f"cut_{share}", planning={"shared_capacity": share * peak}) for share in (0.95, 0.85, 0.7)]
    outcomes, comparison = run_scenarios(cash_inputs, *cuts)
    assert [o.status for o in outcomes] == ["planned"] * 4
    previous = kpi(base_only, "base", "total_cost")
    for cut in cuts:
        cost = kpi(comparison, cut.name, "total_cost")
        # the optimum over a smaller set of plans: never cheaper than with more capacity
        assert cost >= previous - 1e-6 * previous, cut.name
        previous = cost
        assert kpi(comparison, cut.name, "total_cost_change") > 0 or kpi(comparison, cut.name, "units_short_change") > 0
        # the plant's hours stay within the cut: utilization against the shared capacity at most 100%
        assert kpi(comparison, cut.name, "peak_capacity_utilization") <= 1 + 1e-6
    assert kpi(comparison, "cut_0.7", "subcontracted_units_change") > 0


def test_the_base_scenario_is_the_production_plan_and_an_unchanged_replan_reproduces_it(cycle_inputs, monkeypatch):
    # A shared capacity no month comes near couples the families into one model: every family is solved
    # again, and the optimum is the published one.
    loose = Scenario(name="loose", description="no binding change", planning={"shared_capacity": 1e9})
    outcomes, comparison = run_scenarios(cycle_inputs, loose)
    production = cycle_inputs["production"]
    assert compare.base_mismatch_errors(sc.plan_frame(outcomes), production, "optimal") == []
    base = outcomes[0].plan.sort("family", "month")
    chosen = production.filter(pl.col("strategy") == "optimal").sort("family", "month")
    for column, plan_column in compare.BASE_MATCHES.items():
        assert base[column].to_list() == chosen[plan_column].to_list(), column
    for column in ("total_cost_change", "cost_with_safety_stock_penalty_change", "planned_units_change"):
        assert comparison.filter(pl.col("scenario") == "loose")[column].abs().max() < 1e-4, column
    assert comparison.filter(pl.col("scenario") == "loose")["description"].unique().to_list() == ["no binding change"]
    # Without shared capacity a family the scenario leaves alone keeps its published rows, unsolved.
    solved = []
    original = sc.plan_families
    monkeypatch.setattr(sc, "plan_families",
                        lambda problems, *a, **k: solved.append(sorted(problems)) or original(problems, *a, **k))
    outcomes, _ = run_scenarios(cycle_inputs, Scenario(name="cut", demand=[{"family": "Cutlery", "percent": -10}]))
    assert solved == [["Cutlery"]]
    kept = outcomes[1].plan.filter(pl.col("family") != "Cutlery").drop("scenario")
    assert kept.equals(base.filter(pl.col("family") != "Cutlery").drop("scenario"))


def _made_per_month(plan: pl.DataFrame) -> pl.Series:
    return (plan.group_by("month").agg((pl.col("regular_units") + pl.col("overtime_units")).sum().alias("made"))
            .sort("month")["made"])


def test_a_scenario_respects_the_work_centres_as_the_base_plan_does(monkeypatch):
    # A work centre every family uses, with the hours the unconstrained base plan needs at its peak: demand
    # +10% needs more than that, so the scenario's plan must be the one that fits the centre.
    free = make_inputs(planning_section())
    up = Scenario(name="up", demand=[{"percent": 10}])
    free_outcomes, free_comparison = run_scenarios(free, up)
    hours = float(_made_per_month(free_outcomes[0].plan).max())
    assert _made_per_month(free_outcomes[1].plan).max() > 1.02 * hours  # the centre binds in the scenario
    centre = {"name": "Line", "hours_per_month": hours, "hours_per_unit": dict.fromkeys(FAMILIES, 1.0)}
    bound = make_inputs(planning_section(resources=[centre]))
    asked = []
    original = sc.plan_families
    monkeypatch.setattr(sc, "plan_families", lambda *a, **k: asked.append(k.get("together")) or original(*a, **k))
    outcomes, comparison = run_scenarios(bound, up)
    # the published plan runs the centre full in its peak month: the scenario goes to one model at once
    assert asked == [True]
    assert [o.status for o in outcomes] == ["planned", "planned"]
    for outcome in outcomes:
        assert _made_per_month(outcome.plan).max() <= hours * (1 + 1e-6), outcome.name
    # the optimum over fewer plans: never cheaper than the scenario without the centre
    assert (kpi(comparison, "up", "cost_with_safety_stock_penalty")
            >= kpi(free_comparison, "up", "cost_with_safety_stock_penalty") * (1 - 1e-9))


def test_the_checks_find_a_row_that_does_not_balance_or_differs_from_the_plan(cycle_inputs):
    outcomes, _ = run_scenarios(cycle_inputs)
    rows = sc.plan_frame(outcomes).with_row_index()
    broken = rows.with_columns(production=pl.when(pl.col("index") == 5).then(pl.col("production") + 7)
                               .otherwise(pl.col("production"))).drop("index")
    assert compare.balance_errors(broken) and "do not balance" in compare.balance_errors(broken)[0]
    costly = rows.with_columns(total_cost=pl.when(pl.col("index") == 3).then(pl.col("total_cost") + 0.01)
                               .otherwise(pl.col("total_cost"))).drop("index")
    errors = compare.base_mismatch_errors(costly, cycle_inputs["production"], "optimal")
    assert len(errors) == 1 and errors[0].startswith("total_cost")


def test_an_impossible_scenario_is_reported_with_the_planners_reason(cycle_inputs):
    impossible = Scenario(name="tiny_plant", planning={"strategy": "level",
                                                       "defaults": {"workforce": {"max": 1}}})
    outcomes, comparison = run_scenarios(cycle_inputs, impossible, Scenario(name="up", demand=[{"percent": 5}]))
    assert [o.name for o in outcomes] == ["base", "tiny_plant", "up"]
    row = comparison.filter(pl.col("scenario") == "tiny_plant")
    assert row.height == 1 and row["family"].item() == ALL
    assert row["status"].item().startswith("infeasible: ") and "level" in row["status"].item()
    assert row["total_cost"].item() is None
    # the other scenarios are planned regardless
    assert kpi(comparison, "up", "status") == "planned"


# ----------------------------------------------------------------------------------------------
# Bad input: named with the scenario and the key

def _settings(**extra) -> dict:
    data = yaml.safe_load(DEMO_SETTINGS.read_text())
    data["new_products"] = data["adjustments"] = data["budget"] = None
    data.update(extra)
    return data


def _problems(data) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(data, base_dir=DEMO_SETTINGS.parent)
    return caught.value.problems


def test_a_scenario_named_base_is_a_settings_error():
    problems = _problems(_settings(scenarios=[{"name": "base", "demand": [{"percent": 5}]}]))
    assert problems == ["scenarios.base.name: 'base' is the published plan's own name; give the scenario another"]


def test_an_unknown_planning_key_in_a_scenario_names_the_scenario_and_key():
    problems = _problems(_settings(scenarios=[
        {"name": "fine", "planning": {"shared_capacity": 9000}},
        {"name": "typo", "planning": {"shared_capcity": 9000, "defaults": {"costs": {"overtime_wage": 40}}}},
    ]))
    assert problems == ["scenarios.typo: planning.shared_capcity: is not a known key (a typo?)",
                        "scenarios.typo: planning.defaults.costs.overtime_wage: is not a known key (a typo?)"]


def test_unknown_families_and_months_outside_the_horizon_stop_before_any_solve(cycle_inputs, monkeypatch):
    scenarios = [Scenario(name="odd", demand=[{"family": "Garden", "percent": 5},
                                              {"months": "2026-06..2026-12", "percent": 5}],
                          planning={"families": {"Gardn": {"workforce": {"initial": 3}}}})]
    monkeypatch.setattr(sc, "plan_families", lambda *a, **k: pytest.fail("solved despite bad scenarios"))
    with pytest.raises(SettingsError) as caught:
        run_scenarios(cycle_inputs, *scenarios)
    assert caught.value.problems == [
        "scenarios.odd.demand[0].family: 'Garden' is not a family of the demand plan (its families: Cookware, "
        "Cutlery, Storage)",
        "scenarios.odd.demand[1].months: 2026-06..2026-12 is outside the plan's horizon 2026-11..2027-10",
        "scenarios.odd.planning.families.Gardn: not a family of the demand plan (its families: Cookware, Cutlery, "
        "Storage)",
    ]


def test_a_month_range_that_is_not_one_is_a_settings_error():
    problems = _problems(_settings(scenarios=[{"name": "s", "demand": [{"months": "2027-05..2027-02", "percent": 5}]}]))
    assert len(problems) == 1 and "scenarios.s.demand[0].months" in problems[0] and "ends before it starts" in problems[0]


def test_the_demo_scenarios_load():
    names = [s.name for s in parse_settings(_settings(), base_dir=DEMO_SETTINGS.parent).scenarios]
    assert names == ["demand_up_10", "second_shift_lost", "overtime_capped"]


# ----------------------------------------------------------------------------------------------
# Dagster: assets, checks and publication; then `sop-pipeline what-if` on the published cycle

@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The planning, scenario and publish assets materialised on a temp DuckDB holding a demand plan."""
    folder = tmp_path_factory.mktemp("scenarios")
    demand_plan, forecast = seasonal_inputs(FAMILIES, n_months=12, start=CYCLE)
    path = folder / "sop.duckdb"
    conn = db.connect(path)
    try:
        db.ensure_schema(conn)
        db.replace_cycle(conn, "demand_plan", CYCLE, demand_plan.with_columns(
            statistical_forecast=pl.col("planned_units"), new_product_units=0.0, adjustment_units=0.0))
        db.replace_cycle(conn, "forecast", CYCLE, forecast)
    finally:
        conn.close()
    settings = _settings(planning=planning_section(), scenarios=[
        {"name": "demand_up_10", "description": "Demand +10%", "demand": [{"percent": 10}]},
        {"name": "tiny_plant", "planning": {"strategy": "level", "defaults": {"workforce": {"max": 1}}}},
    ])
    settings["sales"]["path"] = "unused.csv"
    config = folder / "sop.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    result = dg.materialize(
        [*dg.load_assets_from_modules([planning_assets, scenario_assets, publish_assets]),
         *draft_sources("demand_plan", "forecast", "forecast_accuracy"),
         *dg.load_asset_checks_from_modules([planning_checks, scenario_checks])],
        resources=plan_resources(str(config), str(path)),
        partition_key=PARTITION, raise_on_error=False)
    return result, path


def _query(path, statement: str) -> pl.DataFrame:
    conn = db.connect(path, read_only=True)
    try:
        return db.query_pl(conn, statement)
    finally:
        conn.close()


@pytest.mark.slow
def test_scenarios_are_published_with_the_cycle_and_the_base_equals_the_plan_row_for_row(published):
    result, path = published
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks[scenario_checks.SCENARIO_PLAN_BALANCES] is True
    assert checks[scenario_checks.BASE_SCENARIO_EQUALS_PLAN] is True
    base = _query(path, "SELECT * EXCLUDE (plan_cycle, scenario) FROM sop.scenario_plan WHERE scenario = 'base' "
                        "ORDER BY family, month")
    plan = _query(path, "SELECT * FROM sop.production_plan WHERE strategy = 'optimal' ORDER BY family, month")
    assert base.height == plan.height == 3 * 12
    assert base["family"].to_list() == plan["family"].to_list() and base["month"].to_list() == plan["month"].to_list()
    for column, plan_column in compare.BASE_MATCHES.items():
        assert base[column].to_list() == plan[plan_column].to_list(), column
    comparison = _query(path, "SELECT scenario, family, status FROM sop.scenario_comparison WHERE family = "
                              f"'{ALL}' ORDER BY scenario")
    assert comparison.rows() == [("base", ALL, "planned"), ("demand_up_10", ALL, "planned"),
                                 ("tiny_plant", ALL, comparison["status"][2])]
    assert comparison["status"][2].startswith("infeasible: A level plan is impossible")
    runs = _query(path, "SELECT scenarios, settings_json FROM sop.plan_runs")
    assert runs["scenarios"].item() == "base, demand_up_10, tiny_plant (infeasible)"
    assert json.loads(runs["settings_json"].item())["planning"]["strategy"] == "optimal"
    snapshot = _query(db.snapshot_path(path), "SELECT count(*) AS n FROM sop.scenario_plan")
    assert snapshot["n"].item() == 2 * 3 * 12


@pytest.fixture
def published_copy_db(published, tmp_path):
    _, path = published
    target = tmp_path / "sop.duckdb"
    shutil.copyfile(path, target)
    shutil.copyfile(db.snapshot_path(path), db.snapshot_path(target))
    return target


@pytest.mark.slow
def test_what_if_json_has_the_documented_shape_and_figures(published_copy_db, run_cli):
    result = run_cli("what-if", "--db", published_copy_db, "--demand", "10", "--json")
    assert result.code == 0, result.text
    body = json.loads(result.out)
    assert set(body) == {"cycle", "base", "what_if", "by_family"}
    assert body["cycle"] == "2026-11"
    assert list(body["base"]) == list(body["what_if"]) == compare.KPIS
    assert sorted(body["by_family"]) == sorted(FAMILIES)
    assert all(set(v) == {"base", "what_if"} for v in body["by_family"].values())
    assert body["what_if"]["planned_units"] == pytest.approx(1.1 * body["base"]["planned_units"], rel=1e-12)
    published_cost = _query(published_copy_db, "SELECT sum(total_cost) AS c FROM sop.production_plan "
                                               "WHERE strategy = 'optimal'")["c"].item()
    assert body["base"]["total_cost"] == pytest.approx(published_cost, rel=1e-12)
    assert body["what_if"]["total_cost"] > body["base"]["total_cost"]


@pytest.mark.slow
def test_a_saved_what_if_appears_in_the_scenario_comparison(published_copy_db, run_cli):
    from tests.support.files import snapshot

    before = snapshot(published_copy_db)
    result = run_cli("what-if", "--db", published_copy_db, "--family", "Cookware", "--demand", "-15",
                     "--set", "defaults.production.max_overtime_hours_per_worker=0", "--save", "cookware_down")
    assert result.code == 0, result.text
    assert "Saved as scenario 'cookware_down'" in result.out
    for path in (published_copy_db, db.snapshot_path(published_copy_db)):
        rows = _query(path, "SELECT family, status, description, planned_units_change FROM sop.scenario_comparison "
                            "WHERE scenario = 'cookware_down' ORDER BY family")
        assert rows["family"].to_list() == ["ALL FAMILIES", "Cookware", "Cutlery", "Storage"]
        assert rows["status"].unique().to_list() == ["planned"]
        assert rows["description"][0] == "demand -15% (Cookware); defaults.production.max_overtime_hours_per_worker=0"
        assert rows["planned_units_change"][2] == 0 and rows["planned_units_change"][1] < 0
    assert "cookware_down" in _query(published_copy_db, "SELECT scenarios FROM sop.plan_runs")["scenarios"].item()
    after = snapshot(published_copy_db)
    # only the scenario tables and plan_runs' list of scenarios changed
    assert {t for t in before if before[t] != after[t]} == {"scenario_plan", "scenario_comparison", "plan_runs"}


@pytest.mark.slow
@pytest.mark.parametrize("args, expected", [
    (("--demand", "5", "--family", "Garden"), "scenarios.what_if.demand[0].family: 'Garden' is not a family"),
    (("--demand", "5", "--months", "2030-01..2030-03"), "2030-01..2030-03 is outside the plan's horizon"),
    (("--set", "defaults.costs.overtime_wage=40"), "planning.defaults.costs.overtime_wage: is not a known key"),
    (("--demand", "5", "--save", "base"), "scenarios.base.name: 'base' is the published plan's own name"),
    (("--family", "Cookware",), "no --demand was given"),
])
def test_what_if_bad_input_is_an_error_naming_the_key(published_copy_db, run_cli, args, expected):
    from tests.support.files import snapshot

    before = snapshot(published_copy_db)
    result = run_cli("what-if", "--db", published_copy_db, *args)
    assert result.code == 2 and expected in result.err, result.text
    assert snapshot(published_copy_db) == before


@pytest.mark.slow
def test_an_impossible_what_if_says_why_and_exits_3(published_copy_db, run_cli):
    result = run_cli("what-if", "--db", published_copy_db, "--set", "strategy=level", "--set",
                     "defaults.workforce.max=1")
    assert result.code == 3 and "The what-if has no plan: A level plan is impossible" in result.err, result.text


def test_the_report_shows_each_scenario_beside_base(cycle_inputs):
    from sop_pipeline.report.html import render_report

    impossible = Scenario(name="tiny_plant", planning={"strategy": "level", "defaults": {"workforce": {"max": 1}}})
    _, comparison = run_scenarios(cycle_inputs, Scenario(name="demand_up_10", description="Demand +10%",
                                                         demand=[{"percent": 10}]), impossible)
    html = render_report(CYCLE, scenario_comparison=comparison)
    section = html[html.index("Scenarios: what if"):html.index("Forecast accuracy")]
    assert "demand_up_10" in section and "Demand +10%" in section and "infeasible: A level plan is impossible" in section
    change = kpi(comparison, "demand_up_10", "total_cost_change")
    assert f"{change:,.0f}" in section
    assert "Scenarios: not available" in render_report(CYCLE)
