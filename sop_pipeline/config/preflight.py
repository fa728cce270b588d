"""Settings checks beyond the schema, so that every problem is listed at once with its key path.

`parse_settings` runs these beside the schema validation: the planning parameters of every family
(which the schema keeps as free mappings), the scenarios' names and planning overrides, and the files
the settings name. The scenarios' families and months are checked against the demand plan as soon as
it is known, before anything is solved (`scenario_demand_problems`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sop_pipeline.common.errors import SopError
from sop_pipeline.config.base import format_loc, message_of
from sop_pipeline.config.problem import merge_params, merge_planning, problem_from_settings
from sop_pipeline.config.schema import PlanningSettings, Scenario

BASE_SCENARIO = "base"  # the published plan's own name in sop.scenario_plan and sop.scenario_comparison

# A stand-in period: the planning parameters are validated before any demand plan exists.
_PROBE_PERIOD = [{"name": "probe", "demand": 0, "working_days": 20}]


def planning_problems(planning: Any) -> list[str]:
    """Problems in `planning.defaults` and each `planning.families.<FAMILY>` as planning parameters."""
    if not isinstance(planning, dict):
        return []  # the schema reports a planning section that is not a mapping
    defaults = planning.get("defaults") or {}
    families = planning.get("families") or {}
    if not isinstance(defaults, dict) or not isinstance(families, dict):
        return []
    problems: list[str] = []
    # The defaults on their own (every family not listed under planning.families plans with them),
    # then each listed family's merged parameters.
    for family, overrides in [(None, {}), *families.items()]:
        if not isinstance(overrides, dict):
            problems.append(f"planning.families.{family}: must be a mapping of sections (workforce, costs, ...)")
            continue
        try:
            problem_from_settings(merge_params(defaults, overrides), _PROBE_PERIOD, family=family,
                                  overrides=overrides if family else None)
        except SopError as exc:
            problems += [p for p in (exc.problems or [exc.message]) if p not in problems]
    return problems


def _schema_problems(planning: dict, prefix: str) -> list[str]:
    try:
        PlanningSettings.model_validate(planning)
    except ValidationError as exc:
        return [f"{prefix}.{format_loc(err['loc'])}: {message_of(err)}" for err in exc.errors()]
    return []


def scenario_problems(data: Any) -> list[str]:
    """Problems in `scenarios`: a scenario named `base` or named twice, and planning overrides that do not
    make valid planning settings once merged onto `planning` (unknown keys, bad values). Each problem names
    the scenario and the key; problems the `planning` section has on its own are reported once, for it."""
    scenarios = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(scenarios, list):
        return []  # the schema reports a scenarios entry that is not a list
    # Without a planning section there is no supply plan, so scenarios are not planned: only their names count.
    planning = data.get("planning") if isinstance(data.get("planning"), dict) else None
    known = set(_schema_problems(planning, "planning")) | set(planning_problems(planning)) if planning else set()
    problems: list[str] = []
    seen: set[str] = set()
    for i, scenario in enumerate(scenarios):
        if not isinstance(scenario, dict):
            continue
        name = scenario.get("name")
        label = f"scenarios.{name}" if isinstance(name, str) and name.strip() else f"scenarios[{i}]"
        if isinstance(name, str) and name.strip().lower() == BASE_SCENARIO:
            problems.append(f"{label}.name: 'base' is the published plan's own name; give the scenario another")
        elif isinstance(name, str) and name in seen:
            problems.append(f"{label}.name: two scenarios have this name; give each its own")
        seen.add(name)
        overrides = scenario.get("planning")
        if planning is None or not isinstance(overrides, dict) or not overrides:
            continue
        merged = merge_planning(planning, overrides)
        problems += [f"{label}: {p}" for p in _schema_problems(merged, "planning") + planning_problems(merged)
                     if p not in known]
    return problems


def scenario_demand_problems(scenarios: list[Scenario], families: list[str], months: list[date]) -> list[str]:
    """Scenario families that the demand plan does not have and month ranges outside its horizon."""
    problems: list[str] = []
    if not months:
        return problems
    first, last = min(months), max(months)
    horizon = f"{first:%Y-%m}..{last:%Y-%m}"
    for scenario in scenarios:
        for j, change in enumerate(scenario.demand):
            key = f"scenarios.{scenario.name}.demand[{j}]"
            if change.family is not None and change.family not in families:
                problems.append(f"{key}.family: {change.family!r} is not a family of the demand plan "
                                f"(its families: {', '.join(families)})")
            span = change.month_span
            if span is not None and (span[0] < first or span[1] > last):
                problems.append(f"{key}.months: {change.months} is outside the plan's horizon {horizon}")
        overrides = scenario.planning.get("families")
        for family in overrides if isinstance(overrides, dict) else {}:
            if family not in families:
                problems.append(f"scenarios.{scenario.name}.planning.families.{family}: not a family of the "
                                f"demand plan (its families: {', '.join(families)})")
    return problems


def file_problems(data: dict, base_dir) -> list[str]:
    """Files named by the settings that do not exist (the sales path is checked by the ingest)."""
    problems = []
    for key in ("new_products", "adjustments", "budget"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            path = Path(value).expanduser()
            path = path if path.is_absolute() else Path(base_dir) / path
            if not path.is_file():
                problems.append(f"{key}: the file {path} does not exist")
    forecast = data.get("forecast") if isinstance(data.get("forecast"), dict) else {}
    if forecast.get("executor") == "dask" and not forecast.get("dask_address"):
        problems.append("forecast.dask_address: required when forecast.executor is dask")
    return problems
