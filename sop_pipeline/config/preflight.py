"""Settings checks beyond the schema, so that every problem is listed at once with its key path.

`parse_settings` runs these beside the schema validation: the planning parameters of every family
(which the schema keeps as free mappings) and the files the settings name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sop_pipeline.common.errors import SopError
from sop_pipeline.config.problem import merge_params, problem_from_settings

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
    # Each family's merged parameters; with no families, the defaults on their own.
    for family, overrides in list(families.items()) or [(None, {})]:
        if not isinstance(overrides, dict):
            problems.append(f"planning.families.{family}: must be a mapping of sections (workforce, costs, ...)")
            continue
        try:
            problem_from_settings(merge_params(defaults, overrides), _PROBE_PERIOD, family=family,
                                  overrides=overrides if family else None)
        except SopError as exc:
            problems += [p for p in (exc.problems or [exc.message]) if p not in problems]
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
