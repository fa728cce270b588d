"""Aggregate production planning: the problem format, level/chase/optimal plans, diagnoses.

Names load on first use (PEP 562): reading and checking a problem does not import CVXPY.
"""

from sop_pipeline.lazy import lazy_getattr

_SOURCE = {
    "Problem": "problem", "load_problem": "problem", "parse_problem": "problem",
    "problem_from_settings": "problem", "merge_params": "problem",
    "PlanResult": "result", "PLAN_COLUMNS": "result", "COST_COLUMNS": "result", "STRATEGIES": "result",
    "plan": "strategies", "plan_all": "strategies", "plan_families": "strategies",
    "resource_requirements": "strategies",
}
__all__ = list(_SOURCE)

__getattr__ = lazy_getattr(__name__, _SOURCE)
