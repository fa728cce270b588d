"""The settings file (`sop.yaml`): its schema, defaults and validation.

Validation happens before any work starts and reports every problem at once, each with its key
path (for example `forecast.horizon_months`), so a planner fixes the file in one go.
Relative paths resolve against the settings file's folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sop_pipeline.errors import SettingsError, SopError

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
DEMO_SETTINGS = PROJECT_ROOT / "assets" / "demo" / "sop.yaml"
DEFAULT_DB = Path("data") / "sop.duckdb"
# No plan or sales row has a figure this large: beyond it a value is a typo or an overflow (1e308),
# and it would leave the solver with numbers it cannot scale (HiGHS treats 1e20 as infinite).
MAX_VALUE = 1e12


class _Strict(BaseModel):
    # Unknown keys are almost always typos ("horizon_month"): reject them rather than ignore them.
    model_config = ConfigDict(extra="forbid")


class SalesColumns(_Strict):
    """Source column names in the user's files (the pipeline's name: the user's name)."""

    date: str = "date"
    sku: str | None = "sku"
    family: str | None = "family"
    units: str = "units"
    revenue: str | None = "revenue"


class SalesSettings(_Strict):
    path: str = Field(description="a file, a glob or a folder of CSV or Parquet files")
    columns: SalesColumns = SalesColumns()
    date_format: str | None = Field(None, description='strptime format for non-ISO dates, e.g. "%m/%d/%Y"')
    allow_returns: bool = Field(False, description="negative units (returns) are allowed")
    delimiter: str | None = Field(None, description="CSV delimiter; null = detect")

    @field_validator("path")
    @classmethod
    def _path_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a file, a glob or a folder")
        return value


class ForecastSettings(_Strict):
    horizon_months: int = Field(18, ge=1, le=120)
    approach: Literal["top_down", "bottom_up", "best"] = "best"
    backtest_months: int = Field(12, ge=1, le=60)
    workers: int | Literal["auto"] = "auto"
    executor: Literal["local", "dask"] = "local"
    dask_address: str | None = None
    seasonality_mode: Literal["additive", "multiplicative"] = "additive"
    changepoint_prior_scale: float = Field(0.05, gt=0, le=10)
    seasonality_prior_scale: float = Field(10.0, gt=0, le=100)
    country_holidays: str | None = Field(None, description="country code for Prophet's holidays, e.g. US")
    interval_width: float = Field(0.8, gt=0, lt=1, description="width of the yhat_lower..yhat_upper band")
    min_history_months: int = Field(24, ge=1, description="SKUs with less history take a share of the family")
    min_nonzero_months: int = Field(12, ge=1, description="SKUs with fewer selling months take a share")
    share_months: int = Field(12, ge=1, description="months of history that set a SKU's share of its family")
    inactive_after_months: int = Field(6, ge=1, description="SKUs with no sales for this long are forecast zero")
    warm_start: bool = True

    @field_validator("workers")
    @classmethod
    def _positive_workers(cls, value):
        if isinstance(value, int) and value < 1:
            raise ValueError("must be a positive whole number or 'auto'")
        return value

    def resolved_workers(self) -> int:
        return os.cpu_count() or 1 if self.workers == "auto" else int(self.workers)


class PlanningSettings(_Strict):
    strategy: Literal["level", "chase", "optimal"] = "optimal"
    service_level: float = Field(0.95, gt=0.5, lt=1)
    shared_capacity: float | None = Field(None, gt=0, description="plant hours per period shared by all families")
    defaults: dict[str, Any] = Field(default_factory=dict, description="problem parameters for every family")
    families: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-family overrides")


class Settings(_Strict):
    sales: SalesSettings
    forecast: ForecastSettings = ForecastSettings()
    planning: PlanningSettings = PlanningSettings()
    new_products: str | None = None
    adjustments: str | None = None

    # Set by `load_settings`, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source_path: Path | None = Field(default=None, exclude=True)

    def resolve(self, path: str | None) -> Path | None:
        """A path from the settings file, relative to the settings file's folder."""
        if path is None:
            return None
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def sales_path(self) -> Path:
        return self.resolve(self.sales.path)  # type: ignore[return-value]

    def fingerprint(self) -> str:
        """A stable hash of the settings as written, for `sop.plan_runs.settings_hash`."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def _format_loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_settings(data: Any, source: str = "settings", base_dir: Path | None = None) -> Settings:
    """Validate a settings mapping, listing every problem with its key path."""
    if not isinstance(data, dict):
        raise SettingsError(
            "The settings file is not a mapping of sections (sales, forecast, planning, ...)",
            where=source,
            fix="Start from assets/demo/sop.yaml",
        )
    from sop_pipeline.preflight import file_problems, planning_problems

    settings = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_format_loc(err['loc'])}: "
                    + ("is not a known key (a typo?)" if err["type"] == "extra_forbidden" else err["msg"])
                    for err in exc.errors()]
    else:
        problems = []
    problems += planning_problems(data.get("planning"))
    problems += file_problems(data, base_dir or Path("."))
    if settings is not None:
        settings.base_dir = base_dir or Path(".")
    if problems:
        raise SettingsError(
            f"The settings file has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems) + "\n",
            where=source,
            fix="Correct these keys and run again; see the README's settings section",
        )
    return settings


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """The same key twice in one mapping (PyYAML would silently keep the last one)."""

    def __init__(self, key, first_mark, second_mark):
        self.key = key
        self.first_line = first_mark.line + 1
        super().__init__(None, None, f"the key {key!r} appears twice (lines {first_mark.line + 1} and "
                                     f"{second_mark.line + 1})", second_mark)


class StrictYamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys: two `Cookware:` entries with different settings
    are a mistake to report, not a choice to make silently."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *anchor` merges may be overridden, that is their purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue  # an unhashable key: the base constructor reports it
                if first is not key_node.start_mark:
                    raise DuplicateKeyError(key, first, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def decode_utf8(raw: bytes, path, what: str, error: type[SopError] = SettingsError) -> str:
    """The file's text; where it is not UTF-8 (a Latin-1 export), `error` names the line and the byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(f"The {what} is not UTF-8 text (byte {raw[exc.start]:#04x} is not UTF-8; "
                    "Latin-1 or Windows-1252 text?)", where=f"{path}, line {line}",
                    fix="Save it as UTF-8 (in Excel: Save As, 'CSV UTF-8'; in editors: Save As, Encoding)") from None


def read_yaml_file(path: Path, what: str) -> Any:
    """The file's YAML (or, for `.json`, JSON) data; an unreadable file raises SettingsError saying where.

    `what` names the file in messages ("settings file", "planning-problem file").
    """
    text = decode_utf8(path.read_bytes(), path, what)
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_json_object_no_duplicates)
        return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateJsonKey as exc:
        raise SettingsError(f"The {what} names the key {exc.key!r} twice in the same object",
                            where=str(path), fix=f"Keep one {exc.key!r} entry (merge their values)") from None
    except DuplicateKeyError as exc:
        raise SettingsError(
            f"The {what} names the key {exc.key!r} twice in the same mapping (first on line {exc.first_line}); "
            "YAML would silently keep only the last one",
            where=f"{path}, line {exc.problem_mark.line + 1}",
            fix=f"Keep one {exc.key!r} entry (merge their settings) and run again") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        raise SettingsError(f"The {what} is not valid YAML: {getattr(exc, 'problem', exc)}",
                            where=where, fix="Fix the YAML syntax") from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"The {what} is not valid JSON: {exc.msg}",
                            where=f"{path}, line {exc.lineno}", fix="Fix the JSON syntax") from None


class _DuplicateJsonKey(ValueError):
    def __init__(self, key):
        self.key = key
        super().__init__(key)


def _json_object_no_duplicates(pairs):
    data = dict(pairs)
    if len(data) < len(pairs):
        seen: set = set()
        raise _DuplicateJsonKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return data


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
