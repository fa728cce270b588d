"""The settings file (`sop.yaml`): its schema and defaults.

A leaf module: it imports nothing of the pipeline's stages, so every stage can read its settings.
Loading, path resolution and the checks beyond the schema are in `config.loading` and `config.preflight`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sop_pipeline.common.months import month_range
from sop_pipeline.common.solver_limits import MIP_GAP, TIME_LIMIT_SECONDS, SolverLimits
from sop_pipeline.config.base import Strict


class SalesColumns(Strict):
    """Source column names in the user's files (the pipeline's name: the user's name)."""

    date: str = "date"
    sku: str | None = "sku"
    family: str | None = "family"
    units: str = "units"
    revenue: str | None = "revenue"


# sales.date_format's words for dates that are not strptime formats (read in ingest/load.py):
# a year with a fraction, as R's ts objects export them (1980 = January 1980, 1980.0833 = February), and a
# count of months without calendar dates (1, 2, 3, ...; forecasting competitions, some planning tools'
# period numbers), month n being sales.first_month plus n - 1 months.
DECIMAL_YEAR = "decimal_year"
MONTH_NUMBER = "month_number"


class SalesSettings(Strict):
    path: str = Field(description="a file, a glob or a folder of CSV or Parquet files")
    columns: SalesColumns = SalesColumns()
    date_format: str | None = Field(None, description='strptime format for non-ISO dates, e.g. "%m/%d/%Y"; '
                                                      '"decimal_year" for years with a fraction (1980.0833 = Feb 1980); '
                                                      '"month_number" for a count of months (1, 2, ...) with first_month')
    first_month: str | None = Field(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                    description='with date_format "month_number": the month that 1 stands for, YYYY-MM')
    allow_returns: bool = Field(False, description="negative units (returns) are allowed")
    delimiter: str | None = Field(None, description="CSV delimiter; null = detect")
    # Real exports have rows with a blank group (uncategorised items, retired codes): without one of these
    # the ingest check stops the run and names them.
    missing_family: str | None = Field(None, min_length=1, description="the family given to rows whose family is "
                                       "blank, e.g. Unassigned; null = such rows stop the run")
    missing_sku: str | None = Field(None, min_length=1, description="the SKU given to rows whose SKU is blank, within "
                                    "their family (\"Unassigned\" becomes \"Unassigned (Binders)\"); null = they stop the run")
    drop_blank_rows: bool = Field(False, description="rows whose family or SKU is still blank are left out (counted "
                                  "in the run's log) instead of stopping the run")

    @field_validator("path")
    @classmethod
    def _path_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a file, a glob or a folder")
        return value

    @model_validator(mode="after")
    def _month_numbers_need_a_first_month(self):
        if self.date_format == MONTH_NUMBER and self.first_month is None:
            raise ValueError('date_format "month_number" needs first_month: the month that 1 stands for, e.g. '
                             'first_month: "2015-01"')
        if self.first_month is not None and self.date_format != MONTH_NUMBER:
            raise ValueError('first_month is read only with date_format: "month_number"')
        return self


class ModelSpec(Strict):
    """One Prophet configuration that competes in the backtest (`forecast.models` as a list)."""

    name: str = Field(min_length=1, description="the name published in sop.forecast.model")
    seasonality_mode: Literal["additive", "multiplicative"] = "additive"
    changepoint_prior_scale: float = Field(0.05, gt=0, le=10)
    changepoint_range: float = Field(0.8, gt=0, le=1, description="share of the history where the trend may bend")
    transform: Literal["none", "log"] = Field(
        "none", description="log: fit log(units) (series with a month at or below zero stay in units)")
    window_years: int | None = Field(None, ge=2, le=50, description="fit the most recent years only (null: all)")
    damping: float | None = Field(None, ge=0, le=1, description="phi: the forecast's trend steps shrink by phi per "
                                                                "month (0: the last level held; null: undamped)")
    level_months: int | None = Field(None, ge=1, le=60, description="move the forecast by the fit's mean residual "
                                                                    "over this many latest months (null: no)")


class ForecastSettings(Strict):
    horizon_months: int = Field(18, ge=1, le=120)
    approach: Literal["top_down", "bottom_up", "from_total", "reconciled", "best"] = "best"
    backtest_months: int = Field(12, ge=1, le=60)
    backtest_origins: int = Field(3, ge=1, le=12, description="forecast origins of the rolling backtest")
    backtest_step_months: int = Field(3, ge=1, le=24, description="months between two backtest origins")
    backtest_first_round: int = Field(
        2, ge=1, le=12, description="origins (the oldest and the latest first, then evenly between) where every "
                                    "configuration is fitted; the others fit each series' finalists only")
    # 0 by default: the race (e.g. 6 origins 2 months apart, 3 finalists) measured no better on held-out
    # competition series (docs/forecasting.md), and whole origins recur across cycles only without it.
    backtest_finalists: int = Field(
        0, ge=0, le=20, description="configurations per series that go on from the first round to the other "
                                    "origins (0: every configuration at every origin)")
    engine: Literal["exact", "cmdstan"] = Field(
        "exact", description="exact: Prophet's MAP solved in-process; cmdstan: Prophet's own Stan backend")
    models: Literal["auto", "default"] | list[ModelSpec] = Field(
        "auto", description="auto: a few Prophet configurations compete per series in the backtest; "
                            "default: seasonality_mode and changepoint_prior_scale below only; or a list")
    combine_models: int = Field(
        3, ge=1, le=6, description="publish the mean of this many best configurations per series where this "
                                   "many distinct ones are scored; with fewer, a mean of the best few where its "
                                   "backtest is no worse than the best one's (1: never combine)")
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

    @field_validator("models")
    @classmethod
    def _named_once(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("give at least one model, or write auto or default")
            names = [m.name for m in value]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"model name {twice[0]!r} is used twice; give each model its own name")
        return value

    def resolved_workers(self) -> int:
        return os.cpu_count() or 1 if self.workers == "auto" else int(self.workers)


_MONTH_KEY = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class Resource(Strict):
    """A work centre: hours available per month and hours each unit of a family takes on it.

    `hours_per_month` is one number for every month, a list (one value per horizon month, from the
    cycle on) or a mapping `{"YYYY-MM": hours, default: hours}`: the months it names, `default` for
    the others (without `default`, months it does not name have no limit).
    """

    name: str = Field(min_length=1)
    hours_per_month: float | list[float] | dict[str, float] = Field(
        description="hours available: a number, a list per horizon month, or {YYYY-MM: hours}")
    hours_per_unit: dict[str, float] = Field(description="hours per unit made, by family (families not named: 0)")

    @field_validator("hours_per_month")
    @classmethod
    def _hours(cls, value):
        values = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            raise ValueError("give at least one month's hours")
        if isinstance(value, dict):
            bad = [k for k in value if k != "default" and not _MONTH_KEY.fullmatch(str(k))]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a month; write the keys as YYYY-MM (e.g. 2027-03) or default")
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError("hours must be finite numbers >= 0")
        return value

    @field_validator("hours_per_unit")
    @classmethod
    def _per_unit(cls, value):
        if not value:
            raise ValueError("name at least one family and its hours per unit")
        bad = [f for f, v in value.items() if not math.isfinite(v) or v < 0]
        if bad:
            raise ValueError(f"{bad[0]}: hours per unit must be a finite number >= 0")
        return value


class SolverSettings(Strict):
    """How far every optimal solve goes (common/solver_limits.py has the defaults and their meaning)."""

    time_limit_seconds: float = Field(TIME_LIMIT_SECONDS, gt=0, le=86_400,
                                      description="per optimal model; a plan found by then is published with its gap")
    mip_gap: float = Field(MIP_GAP, ge=0, lt=1, description="relative gap at which a whole-worker plan is solved")

    @property
    def limits(self) -> SolverLimits:
        return SolverLimits(self.time_limit_seconds, self.mip_gap)


class PlanningSettings(Strict):
    strategy: Literal["level", "chase", "optimal"] = "optimal"
    service_level: float = Field(0.95, gt=0.5, lt=1)
    shared_capacity: float | None = Field(None, gt=0, description="plant hours per period shared by all families")
    defaults: dict[str, Any] = Field(default_factory=dict, description="problem parameters for every family")
    families: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-family overrides")
    resources: list[Resource] = Field(default_factory=list, description="work centres every plan must fit")
    solver: SolverSettings = Field(default_factory=SolverSettings, description="time limit and MIP gap")

    @field_validator("resources")
    @classmethod
    def _unique_names(cls, value):
        names = [r.name for r in value]
        if dup := next((n for n in names if names.count(n) > 1), None):
            raise ValueError(f"the work centre {dup!r} is listed twice; keep one entry per name")
        return value


class AlertSettings(Strict):
    """Thresholds of `sop.exceptions` (what counts as a decision for the S&OP meeting)."""

    capacity_utilization: float = Field(0.95, gt=0, le=2, description="work-centre hours used / available")
    plan_change_percent: float = Field(20, ge=0, description="family plan change against the previous cycle")
    forecast_bias_percent: float = Field(15, ge=0, description="recent family forecast bias")
    budget_gap_percent: float = Field(5, ge=0, description="family plan against the budget")


# Why a cycle without a planning section publishes no supply plan (sop.plan_runs.supply_note, the report).
SUPPLY_SKIPPED = ("the settings have no planning section: add one (planning.defaults with workforce, production, "
                  "inventory and costs) to plan production, inventory and the operating plan")


class DemandChange(Strict):
    """A change of the demand plan in a scenario: planned units and revenue scale together."""

    family: str | None = Field(None, description="a family of the demand plan; null = every family")
    months: str | None = Field(None, description='"YYYY-MM..YYYY-MM", both included; null = the whole horizon')
    percent: float = Field(gt=-100, le=1000, description="e.g. 10 = planned units 10% higher")

    @field_validator("months")
    @classmethod
    def _month_range(cls, value: str | None) -> str | None:
        if value is not None:
            month_range(value)
        return value

    @property
    def month_span(self) -> tuple[date, date] | None:
        return None if self.months is None else month_range(self.months)


class Scenario(Strict):
    """A what-if planned beside the base plan: demand changes and planning overrides.

    `planning` is merged onto the settings' `planning` section by section (config.problem.merge_planning),
    and checked with it by config.preflight.scenario_problems."""

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    demand: list[DemandChange] = Field(default_factory=list)
    planning: dict[str, Any] = Field(default_factory=dict)


class Settings(Strict):
    sales: SalesSettings
    forecast: ForecastSettings = ForecastSettings()
    # Optional: without it (or with `planning: null`) a cycle publishes the forecast and demand plan
    # only, and sop.plan_runs records that supply planning was skipped (see `plans_supply`).
    planning: PlanningSettings = PlanningSettings()
    new_products: str | None = None
    adjustments: str | None = None
    scenarios: list[Scenario] = Field(default_factory=list, description="planned beside the base plan")
    budget: str | None = Field(None, description="the annual operating plan: family, month, units and/or revenue")
    alerts: AlertSettings = AlertSettings()

    # Set by `load_settings`, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _no_planning_section(cls, data: Any) -> Any:
        if isinstance(data, dict) and "planning" in data and data["planning"] is None:
            data = {k: v for k, v in data.items() if k != "planning"}
        return data

    @property
    def plans_supply(self) -> bool:
        """Whether the settings have a planning section, so the cycle plans production and inventory."""
        return "planning" in self.model_fields_set

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


