"""The aggregate-planning problem: its format, defaults and validation.

One product family over a horizon of periods (docs/contracts.md, "Aggregate-planning problem"). A problem
comes either from a stand-alone YAML/JSON file (`sop-pipeline plan --problem FILE`) or from the
pipeline (`planning.defaults` merged with `planning.families[FAMILY]`, plus the planned demand).
Either way every problem is reported at once, each with its key path, e.g.
`periods[2].demand: must be >= 0`.

Extensions to the documented format (nothing is renamed):
- `inventory.safety_stock` is a per-period minimum ending inventory. The optimal plan treats it as
  a *soft* floor: each unit below it costs `costs.safety_stock_shortfall_per_unit` per period
  (null = the backlog cost, so running below safety stock is as bad as a late unit). The penalty
  steers the plan but is not cash: it is reported apart from `total_cost`.
- a period may carry its own `safety_stock` instead of the list (the pipeline builds it that way).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.common.limits import MAX_VALUE
from sop_pipeline.common.readers import read_yaml_file
from sop_pipeline.config.base import Strict, format_loc

IMPLAUSIBLE_STOCK_FACTOR = 100  # stock targets above 100x the horizon's demand are refused as typos


class _Strict(Strict):
    """Strict, and every number finite and plausible."""

    @field_validator("*")
    @classmethod
    def _finite_and_plausible(cls, value):
        for number in value if isinstance(value, list) else [value]:
            if isinstance(number, float) and not (math.isfinite(number) and abs(number) <= MAX_VALUE):
                raise ValueError(f"{number:g} is not a usable number: give a finite value of at most {MAX_VALUE:g}")
        return value


class Period(_Strict):
    name: str
    demand: float = Field(ge=0)
    working_days: float = Field(ge=0)
    safety_stock: float | None = Field(None, ge=0)


class Workforce(_Strict):
    initial: float = Field(ge=0, description="workers before the first period")
    hours_per_day: float = Field(8, gt=0)
    min: float | None = Field(0, ge=0)
    max: float | None = Field(None, ge=0)
    integer: bool = False
    ending_min: float | None = Field(None, ge=0, description="workers at the end of the horizon, at least; null = any")
    ending_max: float | None = Field(None, ge=0, description="workers at the end of the horizon, at most; null = any")

    @model_validator(mode="after")
    def _consistent(self):
        if self.ending_min is not None and self.ending_max is not None and self.ending_min > self.ending_max:
            raise ValueError(f"ending_min ({self.ending_min:g}) is larger than ending_max ({self.ending_max:g})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is larger than max ({self.max:g})")
        if self.integer and not float(self.initial).is_integer():
            raise ValueError(f"initial ({self.initial:g}) must be a whole number when integer is true")
        return self


class Production(_Strict):
    labor_hours_per_unit: float = Field(gt=0)
    max_overtime_hours_per_worker: float | None = Field(0, ge=0, description="per period; null = unlimited")
    max_subcontract_units: float | None = Field(0, ge=0, description="per period; null = unlimited")
    allow_idle: bool = True


class Inventory(_Strict):
    initial: float = Field(0, ge=0)
    initial_backlog: float = Field(0, ge=0)
    ending_min: float = Field(0, ge=0)
    allow_backlog: bool = True
    safety_stock: list[float] | None = None

    @model_validator(mode="after")
    def _non_negative_safety_stock(self):
        if self.safety_stock is not None:
            bad = [i for i, v in enumerate(self.safety_stock) if v < 0 or not math.isfinite(v)]
            if bad:
                raise ValueError(f"safety_stock[{bad[0]}] must be a number >= 0")
        return self


class Costs(_Strict):
    regular_wage_per_hour: float = Field(0, ge=0)
    overtime_wage_per_hour: float = Field(0, ge=0)
    hire_per_worker: float = Field(0, ge=0)
    layoff_per_worker: float = Field(0, ge=0)
    holding_per_unit_period: float = Field(0, ge=0)
    backlog_per_unit_period: float = Field(0, ge=0)
    material_per_unit: float = Field(0, ge=0)
    subcontract_per_unit: float = Field(0, ge=0)
    safety_stock_shortfall_per_unit: float | None = Field(
        None, ge=0, description="per unit below safety stock per period; null = backlog_per_unit_period")

    @property
    def shortfall_penalty(self) -> float:
        if self.safety_stock_shortfall_per_unit is None:
            return self.backlog_per_unit_period
        return self.safety_stock_shortfall_per_unit


class Problem(_Strict):
    """One family's aggregate-planning problem (docs/contracts.md gives the meaning of every field)."""

    name: str | None = Field(None, description="family or problem name, used in messages")
    periods: list[Period] = Field(min_length=1)
    workforce: Workforce
    production: Production
    inventory: Inventory = Inventory()
    costs: Costs = Costs()

    @model_validator(mode="after")
    def _safety_stock_shape(self):
        listed = self.inventory.safety_stock
        per_period = [p.safety_stock for p in self.periods]
        if listed is not None:
            if len(listed) != len(self.periods):
                raise ValueError(
                    f"inventory.safety_stock: has {len(listed)} values but there are "
                    f"{len(self.periods)} periods; give one per period")
            if any(v is not None for v in per_period):
                raise ValueError("inventory.safety_stock: safety stock is also given per period; keep one")
        self._plausible_stocks()
        names = [p.name for p in self.periods]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"periods: the name {dup!r} appears more than once")
        return self

    def _plausible_stocks(self) -> None:
        """An ending stock or safety stock beyond IMPLAUSIBLE_STOCK_FACTOR x the horizon's demand (or the
        initial stock, whichever is larger) is a typo, not a plan: it would keep a solver busy for nothing."""
        scale = max(sum(p.demand for p in self.periods), self.inventory.initial)
        if scale <= 0:
            return
        limit = IMPLAUSIBLE_STOCK_FACTOR * scale
        hint = (f"is more than {IMPLAUSIBLE_STOCK_FACTOR:g} times the horizon's demand ({scale:,.0f}); "
                "correct it (a typo?)")
        if self.inventory.ending_min > limit:
            raise ValueError(f"inventory.ending_min: {self.inventory.ending_min:,.0f} {hint}")
        stocks = self.inventory.safety_stock or [p.safety_stock or 0.0 for p in self.periods]
        if (bad := next((i for i, v in enumerate(stocks) if v > limit), None)) is not None:
            field = f"inventory.safety_stock[{bad}]" if self.inventory.safety_stock else f"periods[{bad}].safety_stock"
            raise ValueError(f"{field}: {stocks[bad]:,.0f} {hint}")

    # Arrays the model and the strategies work on (one value per period).
    @property
    def period_names(self) -> list[str]:
        return [p.name for p in self.periods]

    @property
    def demand(self) -> np.ndarray:
        return np.array([p.demand for p in self.periods], dtype=float)

    @property
    def working_days(self) -> np.ndarray:
        return np.array([p.working_days for p in self.periods], dtype=float)

    @property
    def safety_stock(self) -> np.ndarray:
        if self.inventory.safety_stock is not None:
            return np.asarray(self.inventory.safety_stock, dtype=float)
        return np.array([p.safety_stock or 0.0 for p in self.periods], dtype=float)

    @property
    def hours_per_worker(self) -> np.ndarray:
        """Regular hours one worker is paid for in each period."""
        return self.workforce.hours_per_day * self.working_days

    @property
    def units_per_worker(self) -> np.ndarray:
        """Units one worker makes on regular time in each period."""
        return self.hours_per_worker / self.production.labor_hours_per_unit

    @property
    def label(self) -> str:
        return f"family {self.name}" if self.name else "the problem"


def _messages(exc: ValidationError, where_of) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in ("function-after",))
        msg = err["msg"].removeprefix("Value error, ")
        if isinstance(err.get("input"), float) and math.isnan(err["input"]):
            msg = "nan is not a number: give a finite value"
        elif err["type"] == "greater_than_equal":
            msg = f"must be >= {err['ctx']['ge']:g}"
        elif err["type"] == "greater_than":
            msg = f"must be > {err['ctx']['gt']:g}"
        elif err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "extra_forbidden":
            msg = "is not a known key (a typo?)"
        if not loc and ": " in msg:
            # Cross-field checks on the whole problem name their own field first.
            field, _, msg = msg.partition(": ")
            loc = tuple(int(x) if x.isdigit() else x for x in re.split(r"\.|\[|\]\.?", field) if x)
        lines.append(f"{where_of(loc)}: {msg}")
    return lines


def parse_problem(data: Any, source: str = "problem") -> Problem:
    """Validate a problem mapping, listing every problem with its key path."""
    if not isinstance(data, dict):
        raise SettingsError("The planning problem is not a mapping of sections (periods, workforce, ...)",
                            where=source, fix="Start from assets/examples/red_tomato.yaml")
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        lines = _messages(exc, format_loc)
        raise SettingsError(
            f"The planning problem has {len(lines)} problem(s)", problems=lines,
            where=source,
            fix="Correct these fields and run again; assets/examples/red_tomato.yaml shows every field",
        ) from None


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem file (YAML or JSON)."""
    path = Path(path)
    if not path.is_file():
        raise SettingsError("The planning-problem file does not exist", where=str(path),
                            fix="Pass --problem with the path of a YAML problem file")
    data = read_yaml_file(path, "planning-problem file")
    return parse_problem(data, source=str(path))


def merge_params(defaults: dict | None, overrides: dict | None) -> dict:
    """`planning.defaults` with one family's overrides on top, section by section."""
    merged: dict = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (defaults or {}).items()}
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def merge_planning(planning: dict | None, overrides: dict | None) -> dict:
    """A scenario's `planning` overrides on top of the `planning` section, section by section: a mapping
    merges into the mapping it replaces key by key (`defaults.costs`, `families.Cookware.workforce`),
    anything else (a number, a list such as `resources`) replaces the value."""
    merged = dict(planning or {})
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_planning(merged[key], value)
        else:
            merged[key] = value
    return merged


def _has_path(mapping: Any, loc: tuple) -> bool:
    for part in loc:
        if isinstance(mapping, dict) and part in mapping:
            mapping = mapping[part]
        else:
            return False
    return True


def problem_from_settings(params: dict, periods: list[dict], family: str | None = None,
                          overrides: dict | None = None) -> Problem:
    """A problem for one family of the pipeline.

    `params`: `planning.defaults` merged with `planning.families[family]` (sections workforce,
    production, inventory, costs; see `merge_params`). `periods`: one dict per month with name,
    demand, working_days and optionally safety_stock. `overrides` (the family's own section, if
    given) lets errors name the key the planner actually wrote: `planning.families.<family>.<key>`
    when the family sets it, else `planning.defaults.<key>`.
    """
    params = dict(params or {})
    if "periods" in params:
        raise SettingsError("planning settings may not list periods: the pipeline builds them from the demand plan",
                            where=f"planning.families.{family}.periods" if family else "planning.defaults.periods",
                            fix="Remove the periods key")
    data = {**params, "periods": periods, "name": family}
    family_prefix = f"planning.families.{family}" if family else "planning.defaults"

    def where_of(loc: tuple) -> str:
        if loc and loc[0] == "periods":
            return format_loc(loc, prefix=f"demand plan ({family})" if family else "demand plan")
        if overrides is None or _has_path(overrides, loc):
            return format_loc(loc, prefix=family_prefix)
        return format_loc(loc, prefix="planning.defaults")

    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        lines = _messages(exc, where_of)
        raise SettingsError(
            f"The planning settings for {family or 'the families'} have {len(lines)} problem(s)", problems=lines,
            where="sop.yaml planning section",
            fix="Correct these keys under planning.defaults or planning.families and run again",
        ) from None
