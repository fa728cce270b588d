"""How far the supply stage's solver goes, and the one tolerance the supply stage compares numbers with.

A planner's settings (`planning.solver`) bound every optimal solve: `time_limit_seconds` (a plan found
by then is published with the gap it reached; none found is a PlanningError) and `mip_gap`, the
relative gap between the plan's cost and the best bound at which a whole-worker model (a MILP) is
taken as solved. Linear models (continuous workers) are solved to optimality; their gap is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 1e-6           # solver noise in units, hours and workers, and the objective-vs-cost check (relative)
TIME_LIMIT_SECONDS = 60.0  # per optimal model
MIP_GAP = 1e-4             # relative: the plan is within 0.01% of the best possible cost


@dataclass(frozen=True)
class SolverLimits:
    time_limit_seconds: float = TIME_LIMIT_SECONDS
    mip_gap: float = MIP_GAP

    def highs_options(self) -> dict:
        return {"time_limit": float(self.time_limit_seconds), "mip_rel_gap": float(self.mip_gap)}


DEFAULT_LIMITS = SolverLimits()


def relative_gap(objective: float, bound: float) -> float:
    """How far a plan's cost may be above the best possible, relative to the cost (>= 0; a bound above
    the cost is solver noise)."""
    return max(0.0, objective - bound) / max(abs(objective), TOLERANCE)
