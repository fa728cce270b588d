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
from sop_pipeline.common.resources import DEMO_SETTINGS
from sop_pipeline.config.base import format_loc
from sop_pipeline.config.preflight import file_problems, planning_problems
from sop_pipeline.config.schema import Settings

DEFAULT_DB = Path("data") / "sop.duckdb"
__all__ = ["DEFAULT_DB", "DEMO_SETTINGS", "load_settings", "parse_settings"]


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
        problems = [f"{format_loc(err['loc'])}: "
                    + ("is not a known key (a typo?)" if err["type"] == "extra_forbidden"
                       else err["msg"].removeprefix("Value error, "))
                    for err in exc.errors()]
    else:
        problems = []
    problems += planning_problems(data.get("planning"))
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
