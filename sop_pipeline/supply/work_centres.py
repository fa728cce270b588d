"""Work centres (`planning.resources`): the hours each plan needs of them, and the capacity plan.

A work centre has hours available per month and a number of hours per unit for each family that
uses it (families it does not name take none). Units made in-house (regular + overtime) use it;
subcontracted units are made elsewhere and do not. The optimal plan respects every work centre each
month (one coupling constraint per centre in `model.build`); level and chase plans are checked
against them and reported impossible with the centre and month that do not fit.
The capacity plan a planner reads (hours available, used and needed per centre and month) is
built from these in `alignment.capacity`.
"""

from __future__ import annotations

import numpy as np

from sop_pipeline.common.errors import PlanningError, SettingsError
from sop_pipeline.common.solver_limits import TOLERANCE
from sop_pipeline.config.schema import Resource
from sop_pipeline.supply.diagnose import fmt
from sop_pipeline.supply.model import ResourceLimits


def hours_available(resource: Resource, months: list[str]) -> np.ndarray:
    """The centre's hours in each month `YYYY-MM` of the horizon; inf where it sets no limit."""
    value = resource.hours_per_month
    if isinstance(value, dict):
        # A mapping names the months it limits (a year's calendar may reach beyond the horizon).
        other = float(value.get("default", np.inf))
        return np.array([float(value[m]) if m in value else other for m in months])
    if isinstance(value, list):
        if len(value) != len(months):
            raise SettingsError(
                f"The work centre {resource.name!r} lists hours for {len(value)} months but the plan has "
                f"{len(months)} ({months[0]}..{months[-1]})", where=f"planning.resources ({resource.name}).hours_per_month",
                fix="Give one value per horizon month, a single number, or a mapping {YYYY-MM: hours}")
        return np.asarray(value, dtype=float)
    return np.full(len(months), float(value))


def check_resource_families(resources: list[Resource], families: list[str]) -> None:
    """SettingsError when a work centre names a family the demand plan does not have (a typo would
    otherwise leave that family's load off the centre)."""
    problems = []
    for resource in resources:
        unknown = sorted(set(resource.hours_per_unit) - set(families))
        problems += [f"planning.resources ({resource.name}).hours_per_unit.{name}: the demand plan has no family "
                     f"{name!r} (its families: {', '.join(families)})" for name in unknown]
    if problems:
        raise SettingsError(f"The work centres name {len(problems)} unknown famil{'y' if len(problems) == 1 else 'ies'}",
                            problems=problems, where="sop.yaml planning.resources",
                            fix="Correct the family names (they are case-sensitive) or remove them")


def resource_limits(resources: list[Resource], families: list[str], months: list[str]) -> ResourceLimits | None:
    """The work centres as arrays for the planning model, for these families in this order."""
    if not resources:
        return None
    return ResourceLimits(
        names=[r.name for r in resources],
        hours=np.vstack([hours_available(r, months) for r in resources]),
        per_unit=np.array([[float(r.hours_per_unit.get(f, 0.0)) for f in families] for r in resources]),
    )


def check_resource_use(limits: ResourceLimits | None, made: np.ndarray, months: list[str], strategy: str) -> None:
    """PlanningError when the units made in-house (families x months) need more hours of some work
    centre than it has in some month: "Packing needs 12,400 h in 2027-03; 9,000 are available"."""
    if limits is None:
        return
    used = limits.per_unit @ made
    over = used > limits.hours + TOLERANCE * np.maximum(1.0, limits.hours)
    if not over.any():
        return
    r, t = map(int, np.argwhere(over)[0])
    name, month = limits.names[r], months[t]
    raise PlanningError(
        f"The {strategy} plans of all families do not fit the work centres: {name} needs {fmt(round(used[r, t]))} h "
        f"in {month}; {fmt(limits.hours[r, t])} are available",
        where=f"planning.resources ({name}), {month}",
        fix=f"Raise {name}'s hours_per_month or publish the optimal strategy, which respects every work centre")
