"""Work centres (planning.resources): the optimal plan respects them, level/chase are checked against them,
an impossible plan names the centre and month, and the capacity plan reports hours and utilization."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from sop_pipeline.alignment.capacity import PLANT_LABOUR, capacity_errors, capacity_plan
from sop_pipeline.common.errors import PlanningError, SettingsError
from sop_pipeline.config.loading import parse_settings
from sop_pipeline.config.schema import PlanningSettings, Resource
from sop_pipeline.supply import plan_families
from sop_pipeline.supply.work_centres import check_resource_families, hours_available, resource_limits
from tests.support.planning_cases import problem

# 10 units per worker per period; backlog not allowed and no subcontracting, so hours must come from the plant.
SECTIONS = dict(inventory={"allow_backlog": False},
                costs={"regular_wage_per_hour": 1, "holding_per_unit_period": 1, "material_per_unit": 1})


def _families(demand_a=(100, 300), demand_b=(100, 300)):
    return {"A": problem(list(demand_a), **SECTIONS), "B": problem(list(demand_b), **SECTIONS)}


def _packing(hours) -> Resource:
    return Resource(name="Packing", hours_per_month=hours, hours_per_unit={"A": 1.0, "B": 1.0})


def _made(plans) -> np.ndarray:
    return np.vstack([(p.periods["regular_units"] + p.periods["overtime_units"]).to_numpy() for p in plans.values()])


def test_a_work_centre_binds_and_the_plan_builds_ahead_to_respect_it():
    problems = _families()
    free = plan_families(problems, "optimal")
    assert _made(free).sum(axis=0)[1] == pytest.approx(600)  # unconstrained: made when needed
    limits = resource_limits([_packing([1000, 400])], list(problems), ["P1", "P2"])
    bound = plan_families(problems, "optimal", resources=limits)
    used = limits.per_unit @ _made(bound)
    assert used[0, 1] == pytest.approx(400)                  # the limit binds in P2
    assert used[0, 0] == pytest.approx(400)                  # 200 units made a period early instead
    assert sum(p.total_cost for p in bound.values()) > sum(p.total_cost for p in free.values())
    for name, result in bound.items():                       # demand still met on time
        assert result.periods["backlog"].max() == 0, name


@pytest.mark.parametrize("hours", [[1000, 400], [1000, 1000]])
def test_families_planned_together_at_once_have_the_same_optimum(hours):
    # together=True skips the plans one by one: one model at once, whether the centre binds or not
    problems = _families()
    limits = resource_limits([_packing(hours)], list(problems), ["P1", "P2"])
    default = plan_families(problems, "optimal", resources=limits)
    together = plan_families(problems, "optimal", resources=limits, together=True)
    assert "models" not in together["A"].solver  # one model
    assert ("models" in default["A"].solver) == (hours == [1000, 1000])  # one by one when they fit
    assert sum(p.total_cost for p in together.values()) == pytest.approx(sum(p.total_cost for p in default.values()),
                                                                         rel=1e-9)


def test_subcontracted_units_do_not_use_the_work_centre():
    sections = dict(SECTIONS, production={"max_subcontract_units": None},
                    costs={**SECTIONS["costs"], "subcontract_per_unit": 30})
    problems = {"A": problem([100, 300], **sections), "B": problem([100, 300], **sections)}
    limits = resource_limits([_packing([100, 100])], list(problems), ["P1", "P2"])
    plans = plan_families(problems, "optimal", resources=limits)
    assert (limits.per_unit @ _made(plans) <= 100 + 1e-6).all()
    assert sum(p.periods["subcontract_units"].sum() for p in plans.values()) == pytest.approx(800 - 200)


def test_an_impossible_work_centre_is_diagnosed_by_name_and_month():
    problems = _families()
    limits = resource_limits([_packing([150, 150])], list(problems), ["P1", "P2"])
    with pytest.raises(PlanningError) as info:
        plan_families(problems, "optimal", resources=limits)
    # P1's 200 units are due in P1 (no backlog, no subcontracting): 200 h of Packing, 150 there
    assert "Packing needs 200 h by P1; 150 are available up to then" in info.value.message
    assert "planning.resources (Packing), P1" in info.value.message
    later = resource_limits([_packing([200, 150])], list(problems), ["P1", "P2"])
    with pytest.raises(PlanningError, match="Packing needs 800 h by P2; 350 are available up to then"):
        plan_families(problems, "optimal", resources=later)


@pytest.mark.parametrize("strategy", ["level", "chase"])
def test_level_and_chase_are_checked_against_the_work_centres(strategy):
    problems = _families()
    limits = resource_limits([_packing([1000, 350])], list(problems), ["P1", "P2"])
    with pytest.raises(PlanningError) as info:
        plan_families(problems, strategy, resources=limits)
    # level makes 200 a family each period (400 h in P2), chase 300 (600 h): both above P2's 350
    hours = (limits.per_unit @ _made({n: plan_families({n: p}, strategy)[n] for n, p in problems.items()}))[0]
    assert hours[1] == {"level": 400, "chase": 600}[strategy]
    assert f"Packing needs {hours[1]:,.0f} h in P2; 350 are available" in info.value.message
    assert plan_families(problems, "optimal", resources=limits)  # the optimal plan fits by building ahead
    # with room to spare they plan as before
    roomy = resource_limits([_packing([1000, 1000])], list(problems), ["P1", "P2"])
    assert set(plan_families(problems, strategy, resources=roomy)) == {"A", "B"}


def test_hours_per_month_as_number_list_or_mapping_with_default():
    months = ["2027-01", "2027-02", "2027-03"]
    assert hours_available(_packing(500), months).tolist() == [500, 500, 500]
    assert hours_available(_packing([1, 2, 3]), months).tolist() == [1, 2, 3]
    assert hours_available(_packing({"default": 9, "2027-02": 4}), months).tolist() == [9, 4, 9]
    assert hours_available(_packing({"2027-02": 4}), months).tolist() == [np.inf, 4, np.inf]
    with pytest.raises(SettingsError, match="lists hours for 2 months but the plan has 3"):
        hours_available(_packing([1, 2]), months)


def test_resources_in_the_settings_are_checked_with_their_key_paths():
    with pytest.raises(SettingsError) as info:
        parse_settings({"sales": {"path": "x.csv"}, "planning": {
            "defaults": {"workforce": {"initial": 1}, "production": {"labor_hours_per_unit": 1}},
            "resources": [{"name": "Packing", "hours_per_month": {"2027-13": 5}, "hours_per_unit": {"A": -1}}]}})
    problems = "\n".join(info.value.problems)
    assert "planning.resources[0].hours_per_month: '2027-13' is not a month" in problems
    assert "planning.resources[0].hours_per_unit: A: hours per unit must be a finite number >= 0" in problems
    twice = [{"name": "Packing", "hours_per_month": 10, "hours_per_unit": {"A": 1}}] * 2
    with pytest.raises(SettingsError) as info:
        parse_settings({"sales": {"path": "x.csv"}, "planning": {
            "defaults": {"workforce": {"initial": 1}, "production": {"labor_hours_per_unit": 1}}, "resources": twice}})
    assert "planning.resources: the work centre 'Packing' is listed twice; keep one entry per name" \
        in info.value.problems
    with pytest.raises(SettingsError) as info:
        check_resource_families([_packing(10), Resource(name="Oven", hours_per_month=5,
                                                        hours_per_unit={"Bakewear": 1})], ["A", "B", "Bakeware"])
    assert info.value.problems == ["planning.resources (Oven).hours_per_unit.Bakewear: the demand plan has no "
                                   "family 'Bakewear' (its families: A, B, Bakeware)"]


def _production(strategy="optimal"):
    months = [date(2027, 1, 1), date(2027, 2, 1)]
    rows = []
    for family, demand, regular, overtime, sub in (("A", [100, 300], [150, 250], [0, 20], [0, 0]),
                                                  ("B", [50, 80], [40, 60], [0, 0], [10, 20])):
        rows += [{"family": family, "strategy": strategy, "month": m, "demand": float(d), "regular_units": float(r),
                  "overtime_units": float(o), "subcontract_units": float(s)}
                 for m, d, r, o, s in zip(months, demand, regular, overtime, sub)]
    return pl.DataFrame(rows)


def test_capacity_plan_utilization_is_required_over_available():
    problems = {"A": problem([1, 1], production={"labor_hours_per_unit": 2}),
                "B": problem([1, 1], production={"labor_hours_per_unit": 3})}
    planning = PlanningSettings(shared_capacity=1000, resources=[
        Resource(name="Packing", hours_per_month={"default": 400, "2027-02": 200},
                 hours_per_unit={"A": 0.5, "B": 1.0})])
    frame = capacity_plan(pl.concat([_production(), _production("level")]), problems, planning, "optimal")
    assert capacity_errors(frame) == []
    row = {(r["resource"], r["family"], f"{r['month']:%Y-%m}"): r for r in frame.iter_rows(named=True)}
    # Packing, February: A makes 250 + 20 at 0.5 h, B 60 at 1 h (its 20 subcontracted units use none)
    packing = row[("Packing", "ALL FAMILIES", "2027-02")]
    assert packing["hours_required"] == pytest.approx(0.5 * 270 + 1.0 * 60)
    assert packing["hours_unconstrained"] == pytest.approx(0.5 * 300 + 1.0 * 80)
    assert packing["hours_available"] == 200
    assert packing["utilization"] == pytest.approx(195 / 200)
    assert row[("Packing", "B", "2027-02")]["utilization"] == pytest.approx(60 / 200)
    labour = row[(PLANT_LABOUR, "ALL FAMILIES", "2027-01")]
    assert labour["hours_required"] == pytest.approx(2 * 150 + 3 * 40)
    assert labour["utilization"] == pytest.approx(labour["hours_required"] / 1000)
    limited = frame.filter(pl.col("hours_available") > 0)
    assert ((limited["utilization"] - limited["hours_required"] / limited["hours_available"]).abs() < 1e-12).all()
    assert set(frame["strategy"]) == {"optimal"}
    # without a shared capacity the plant labour rows have no limit to measure against
    open_plant = capacity_plan(_production(), problems, PlanningSettings(), "optimal")
    assert open_plant["utilization"].null_count() == open_plant.height
    # a plan above its hours is caught by the check
    over = frame.with_columns(hours_required=pl.col("hours_required") * 2,
                              utilization=pl.col("utilization") * 2)
    assert "work-centre months over their hours" in capacity_errors(over)[0]
