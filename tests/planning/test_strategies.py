"""Hand-worked small plans for each strategy definition (docs/contracts.md, "Aggregate-planning problem").

Every case makes 10 units per worker per period (8 h/day x 10 days / 8 h per unit) unless stated.
"""

from __future__ import annotations

import numpy as np
import pytest

from sop_pipeline.supply import PLAN_COLUMNS, plan, plan_families, resource_requirements
from tests.support.planning_cases import problem

BASE = dict(workforce={"initial": 20}, inventory={"initial": 50, "ending_min": 30},
            costs={"regular_wage_per_hour": 1, "holding_per_unit_period": 1, "layoff_per_worker": 3})


def test_level_continuous():
    """Need by period end: 100-50=50, 400-50=350, 600-50+30=580 units over 10, 20, 30 units per
    worker -> 5, 17.5, 19.33: one workforce of 58/3 for the whole horizon, working flat out."""
    result = plan(problem([100, 300, 200], **BASE), "level")
    f = result.periods
    assert list(f.columns) == PLAN_COLUMNS
    assert np.allclose(f["workforce"], 58 / 3)
    assert np.allclose(f["layoffs"], [20 - 58 / 3, 0, 0]) and (f["hires"] == 0).all()
    assert np.allclose(f["ending_inventory"], [430 / 3, 110 / 3, 30])
    assert (f["backlog"] == 0).all() and (f["overtime_units"] == 0).all() and (f["subcontract_units"] == 0).all()
    # $1 per paid regular hour (80 per worker), $1 per unit held, $3 per layoff.
    expected = 58 / 3 * 80 * 3 + (430 / 3 + 110 / 3 + 30) + 3 * (20 - 58 / 3)
    assert result.total_cost == pytest.approx(expected, abs=0.005)
    assert result.total_cost == pytest.approx(f["total_cost"].sum(), abs=0.005)


def test_level_whole_workers_idle_or_stock():
    """Rounded up to 20 workers (200 a period). With idle time allowed they make only what is needed,
    as late as possible (180, 200, 200; 160 idle hours in P1); without, all 200 go to stock."""
    whole = {**BASE, "workforce": {"initial": 20, "integer": True}}
    idle = plan(problem([100, 300, 200], **whole), "level").periods
    assert (idle["workforce"] == 20).all()
    assert list(idle["regular_units"]) == [180, 200, 200]
    assert list(idle["ending_inventory"]) == [130, 30, 30]
    assert list(idle["idle_hours"]) == [160, 0, 0]
    busy = plan(problem([100, 300, 200], **whole, production={"allow_idle": False}), "level").periods
    assert list(busy["ending_inventory"]) == [150, 50, 50]
    assert (busy["idle_hours"] == 0).all()


def test_level_respects_initial_backlog():
    """An initial backlog of 40 must be made good too: (100+40)/10 = 14 workers."""
    result = plan(problem([100], workforce={"initial": 0}, inventory={"initial_backlog": 40}), "level")
    assert result.periods["workforce"].iloc[0] == pytest.approx(14)
    assert result.periods["backlog"].iloc[0] == 0


def test_chase_continuous():
    """Each period's net need: 100-50=50, 300, 200+30=230 -> 5, 30, 23 workers; no stock carried
    except the ending target."""
    f = plan(problem([100, 300, 200], **BASE), "chase").periods
    assert np.allclose(f["workforce"], [5, 30, 23])
    assert np.allclose(f["hires"], [0, 25, 0]) and np.allclose(f["layoffs"], [15, 0, 7])
    assert np.allclose(f["ending_inventory"], [0, 0, 30])


def test_chase_whole_workers():
    """Needs 55, then 300-surplus, then 200+30-surplus units. Rounded up: 5.5 -> 6 workers. Without
    idle time the 5 extra units carry over (needs 295 -> 30 workers, 225 -> 23); with idle time
    they are not made (needs 300 -> 30, 230 -> 23)."""
    sections = dict(workforce={"initial": 20, "integer": True}, inventory={"initial": 50, "ending_min": 30})
    busy = plan(problem([105, 300, 200], **sections, production={"allow_idle": False}), "chase").periods
    assert list(busy["workforce"]) == [6, 30, 23]
    assert list(busy["ending_inventory"]) == [5, 5, 35]
    idle = plan(problem([105, 300, 200], **sections), "chase").periods
    assert list(idle["workforce"]) == [6, 30, 23]
    assert list(idle["regular_units"]) == [55, 300, 230]
    assert list(idle["idle_hours"]) == [40, 0, 0]


def test_chase_floor_is_workforce_min():
    f = plan(problem([0, 100], workforce={"initial": 0, "min": 4}), "chase").periods
    assert list(f["workforce"]) == [4, 10]
    assert list(f["ending_inventory"]) == [0, 0]


def test_optimal_prefers_stock_then_overtime():
    """5 fixed workers make 50 a period; demand 30 then 80. Build 20 ahead ($1 each held), then 10
    on overtime (8 h x $2 = $16 each, within 5 x 16 = 80 hours) rather than subcontract ($20):
    20 + 160 = $180."""
    result = plan(problem([30, 80], workforce={"initial": 5, "min": 5, "max": 5},
                          production={"max_overtime_hours_per_worker": 16, "max_subcontract_units": None},
                          costs={"holding_per_unit_period": 1, "overtime_wage_per_hour": 2,
                                 "subcontract_per_unit": 20}), "optimal")
    f = result.periods
    assert list(f["ending_inventory"]) == [20, 0]
    assert list(f["overtime_units"]) == [0, 10] and list(f["overtime_hours"]) == [0, 80]
    assert result.total_cost == pytest.approx(180)


def test_optimal_backlog_when_cheaper_than_stock():
    """5 fixed workers make 50 a period; 100 are due in P2. The 50 P2 cannot make come either from P1
    (held one period, $4 each) or from P3 (backlogged one period, $1 each): the plan backlogs them."""
    result = plan(problem([0, 100, 0], workforce={"initial": 5, "min": 5, "max": 5},
                          costs={"holding_per_unit_period": 4, "backlog_per_unit_period": 1}), "optimal")
    assert list(result.periods["backlog"]) == [0, 50, 0]
    assert result.units_short == 50
    assert result.total_cost == pytest.approx(50)


def test_safety_stock_is_a_soft_floor():
    """Holding a unit costs $1; a unit below safety stock costs the penalty. At $3 the plan holds the
    5 units of safety stock; at $0.5 it runs below and the penalty is reported apart from cost."""
    sections = dict(workforce={"initial": 2, "min": 2, "max": 2},
                    inventory={"safety_stock": [5, 0]})
    held = plan(problem([10, 10], **sections, costs={"holding_per_unit_period": 1,
                                                     "safety_stock_shortfall_per_unit": 3}), "optimal")
    assert list(held.periods["ending_inventory"]) == [5, 0]
    assert held.total_cost == pytest.approx(5) and held.safety_stock_penalty == 0
    short = plan(problem([10, 10], **sections, costs={"holding_per_unit_period": 1,
                                                      "safety_stock_shortfall_per_unit": 0.5}), "optimal")
    assert list(short.periods["safety_stock_shortfall"]) == [5, 0]
    assert short.total_cost == 0 and short.safety_stock_penalty == pytest.approx(2.5)


def _single_period(**costs):
    # One worker, 100 hours, 1 hour per unit: 100 units of regular capacity; subcontracting unlimited.
    return problem([100], working_days=1, workforce={"initial": 1, "min": 1, "max": 1, "hours_per_day": 100},
                   production={"labor_hours_per_unit": 1, "max_subcontract_units": None},
                   costs={"material_per_unit": 1, "subcontract_per_unit": 5, **costs})


def test_shared_capacity_couples_families():
    """Two families each able to make 100 in-house ($1) or subcontract ($5). 150 shared plant hours
    force 50 units out: 150 x $1 + 50 x $5 = $400, against $200 without the limit."""
    families = {"A": _single_period(), "B": _single_period()}
    free = plan_families(families, "optimal")
    assert sum(r.total_cost for r in free.values()) == pytest.approx(200)
    shared = plan_families(families, "optimal", shared_capacity_hours=150)
    assert sum(r.total_cost for r in shared.values()) == pytest.approx(400)
    hours = resource_requirements(families, shared)
    total = hours[hours["family"] == "ALL"]
    assert total["hours_needed"].iloc[0] == pytest.approx(150)
    assert total["demand_hours"].iloc[0] == pytest.approx(200)
    assert set(hours["family"]) == {"A", "B", "ALL"}


def test_plan_families_level_and_chase_per_family():
    families = {"A": problem([100, 300], workforce={"initial": 0}), "B": problem([50, 50], workforce={"initial": 0})}
    level = plan_families(families, "level")
    assert level["A"].periods["workforce"].iloc[0] == pytest.approx(20)
    assert level["B"].periods["workforce"].iloc[0] == pytest.approx(5)
    chase = plan_families(families, "chase")
    assert list(chase["A"].periods["workforce"]) == [10, 30]


def test_whole_and_fractional_families_in_one_model():
    """Families solved together (a shared capacity makes one model) keep their own workforce.integer:
    55 units need 5.5 workers, rounded up to 6 only for the whole-worker family."""
    whole = problem([55], workforce={"initial": 0, "integer": True}, costs={"regular_wage_per_hour": 1})
    part = problem([55], workforce={"initial": 0}, costs={"regular_wage_per_hour": 1})
    results = plan_families({"whole": whole, "part": part}, "optimal", shared_capacity_hours=1e9)
    assert "models" not in results["whole"].solver  # one model, not totals of several
    assert results["whole"].periods["workforce"].iloc[0] == 6
    assert results["part"].periods["workforce"].iloc[0] == pytest.approx(5.5)


def test_independent_families_solved_one_by_one_match_one_model():
    """Without shared capacity each family is its own MILP; the plans cost what one model finds."""
    families = {
        name: problem(demand, workforce={"initial": 3, "integer": True},
                      production={"max_overtime_hours_per_worker": 10, "max_subcontract_units": None},
                      inventory={"initial": 20},
                      costs={"regular_wage_per_hour": 4, "overtime_wage_per_hour": 6, "hire_per_worker": 300,
                             "layoff_per_worker": 500, "holding_per_unit_period": 2, "subcontract_per_unit": 45})
        for name, demand in {"A": [40, 90, 160, 70], "B": [120, 30, 30, 200], "C": [55, 55, 80, 10]}.items()
    }
    separate = plan_families(families, "optimal")
    together = plan_families(families, "optimal", shared_capacity_hours=1e9)  # never binding: one model
    assert separate["A"].solver["models"] == 3 and "models" not in together["A"].solver
    for name in families:
        assert separate[name].total_cost == pytest.approx(together[name].total_cost, rel=1e-9)
        assert (separate[name].periods["workforce"] % 1 == 0).all()
    assert separate["A"].solver["objective"] == pytest.approx(together["A"].solver["objective"], rel=1e-9)


def test_level_and_chase_keep_the_safety_stock():
    """Safety stock 30, 40, 20 and an ending target of 25 (docs/contracts.md, "Aggregate-planning problem").
    Level: need by period end 100-50+30=80, 400-50+40=390, 600-50+25=575 over 10, 20, 30 units per
    worker -> 8, 19.5, 19.17: 19.5 workers. Chase: 100-50+30=80 -> 8; 300-30+40=310 -> 31;
    200-40+25=185 -> 18.5. Both end every period at or above the buffer, with no penalty; on the
    published costs the optimal plan is then never dearer in cash."""
    sections = dict(workforce={"initial": 20}, inventory={"initial": 50, "ending_min": 25, "safety_stock": [30, 40, 20]},
                    costs={"regular_wage_per_hour": 1, "holding_per_unit_period": 1, "layoff_per_worker": 3,
                           "hire_per_worker": 2, "backlog_per_unit_period": 4, "safety_stock_shortfall_per_unit": 6})
    level = plan(problem([100, 300, 200], **sections), "level")
    chase = plan(problem([100, 300, 200], **sections), "chase")
    optimal = plan(problem([100, 300, 200], **sections), "optimal")
    assert np.allclose(level.periods["workforce"], 19.5)
    assert np.allclose(chase.periods["workforce"], [8, 31, 18.5])
    for result in (level, chase):
        f = result.periods
        assert (f["ending_inventory"] >= np.array([30, 40, 25]) - 1e-9).all(), result.strategy
        assert (f["backlog"] == 0).all() and result.safety_stock_penalty == 0
    assert optimal.total_cost <= min(level.total_cost, chase.total_cost) + 1e-6


def test_level_and_chase_without_safety_stock_are_unchanged():
    """No safety stock: the floor is the ending target at the last period only (as before)."""
    level = plan(problem([100, 300, 200], **BASE), "level")
    assert np.allclose(level.periods["workforce"], 58 / 3)
    chase = plan(problem([100, 300, 200], **BASE), "chase")
    assert np.allclose(chase.periods["ending_inventory"], [0, 0, 30])


def test_scenario_mip_options_keep_the_optimum_of_a_coupled_whole_worker_model():
    """What-ifs search their MILPs with other HiGHS options (scenarios/plan.py SCENARIO_MIP_OPTIONS):
    the optimum must be the one HiGHS's defaults find; an option HiGHS does not know is an error."""
    from sop_pipeline.scenarios.plan import SCENARIO_MIP_OPTIONS

    def family(demand, initial):
        return problem(demand, working_days=10,
                       workforce={"initial": initial, "integer": True, "hours_per_day": 8},
                       production={"labor_hours_per_unit": 8, "max_overtime_hours_per_worker": 10,
                                   "max_subcontract_units": None},
                       costs={"regular_wage_per_hour": 4, "overtime_wage_per_hour": 6, "hire_per_worker": 300,
                              "layoff_per_worker": 500, "holding_per_unit_period": 2,
                              "backlog_per_unit_period": 5, "material_per_unit": 10, "subcontract_per_unit": 30})

    families = {"A": family([95, 130, 170, 120, 80, 155], 11), "B": family([60, 45, 90, 140, 110, 75], 7)}
    default = plan_families(families, "optimal", shared_capacity_hours=2000)
    searched = plan_families(families, "optimal", shared_capacity_hours=2000, mip_options=SCENARIO_MIP_OPTIONS)
    cost = {name: sum(r.total_cost for r in plans.values()) for name, plans in (("default", default), ("searched", searched))}
    assert cost["searched"] == pytest.approx(cost["default"], rel=1e-9)
    assert all(float(r.periods["workforce"].sub(r.periods["workforce"].round()).abs().max()) < 1e-6
               for r in searched.values())
    with pytest.raises(ValueError, match="no_such_highs_option"):
        plan_families(families, "optimal", shared_capacity_hours=2000, mip_options={"no_such_highs_option": 1})
