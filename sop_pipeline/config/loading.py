"""Reading and checking `sop.yaml`: every problem listed at once with its key path.

Validation happens before any work starts, so a planner fixes the file in one go. Relative paths
resolve against the settings file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.common.readers import read_yaml_file
from sop_pipeline.common.resources import CONFIG_ENV, DATABASE_ENV, DEFAULT_DB, DEMO_SETTINGS
from sop_pipeline.config.base import format_loc, message_of
from sop_pipeline.config.preflight import file_problems, planning_problems, scenario_problems
from sop_pipeline.config.schema import Settings

# Not `sop.duckdb`: DuckDB names a file's catalog after the file, and a catalog `sop` beside the schema
# `sop` makes `SELECT * FROM sop.plan_runs` ambiguous for anyone who opens the file with plain duckdb.
__all__ = ["CONFIG_ENV", "DATABASE_ENV", "DEFAULT_DB", "DEMO_SETTINGS", "load_settings", "parse_settings"]


def parse_settings(data: Any, source: str = "settings", base_dir: Path | None = None) -> Settings:
    """Validate a settings mapping, listing every problem with its key path."""
    if not isinstance(data, dict):
        raise SettingsError(
            "The settings file is not a mapping of sections (sales, forecast, planning, ...)",
            where=source,
            fix="Start from assets/demo/sop.yaml",
        )
    settings = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = [f"{format_loc(_named(err['loc'], data))}: {message_of(err)}" for err in exc.errors()]
    else:
        problems = []
    problems += planning_problems(data.get("planning"))
    problems += scenario_problems(data)
    problems += file_problems(data, base_dir or Path("."))
    if settings is not None:
        settings.base_dir = base_dir or Path(".")
    if problems:
        raise SettingsError(
            f"The settings file has {len(problems)} problem(s)", problems=problems,
            where=source,
            fix="Correct these keys and run again; see the README's settings section",
        )
    return settings


def _named(loc: tuple, data: dict) -> tuple:
    """`scenarios[2].demand` as `scenarios.spring_peak.demand`: a scenario is known by its name."""
    if len(loc) > 1 and loc[0] == "scenarios" and isinstance(loc[1], int):
        scenarios = data.get("scenarios")
        entry = scenarios[loc[1]] if isinstance(scenarios, list) and loc[1] < len(scenarios) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name.strip():
            return ("scenarios", name, *loc[2:])
    return loc


def load_settings(path: str | os.PathLike) -> Settings:
    """Read and validate `sop.yaml`."""
    path = Path(path)
    if not path.exists():
        raise SettingsError("The settings file does not exist", where=str(path),
                            fix="Pass --config with the path of your sop.yaml")
    data = read_yaml_file(path, "settings file")
    settings = parse_settings(data, source=str(path), base_dir=path.resolve().parent)
    settings.source_path = path.resolve()
    return settings
