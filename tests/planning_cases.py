"""Small planning problems for the planning tests, built from the documented file format."""

from __future__ import annotations

import copy

from sop_pipeline.config.problem import parse_problem


def problem_dict(demand, working_days=10, **sections) -> dict:
    """A problem with 10 units per worker per period (8 h/day x 10 days / 8 h per unit), no costs,
    no overtime or subcontracting unless a section says otherwise."""
    days = working_days if isinstance(working_days, list) else [working_days] * len(demand)
    data = {
        "periods": [{"name": f"P{i + 1}", "demand": d, "working_days": w} for i, (d, w) in enumerate(zip(demand, days))],
        "workforce": {"initial": 0, "hours_per_day": 8},
        "production": {"labor_hours_per_unit": 8, "max_overtime_hours_per_worker": 0, "max_subcontract_units": 0},
        "inventory": {},
        "costs": {},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data[section] = {**data.get(section, {}), **values}
        else:
            data[section] = values
    return copy.deepcopy(data)


def problem(demand, working_days=10, **sections):
    return parse_problem(problem_dict(demand, working_days, **sections), source="test")
