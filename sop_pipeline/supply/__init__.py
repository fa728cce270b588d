"""Supply planning: level/chase/optimal plans per family (CVXPY/HiGHS), their diagnoses, and the
production, inventory and operating plans built from them. The problem format is `config.problem`.

Names load on first use (PEP 562): reading and checking a problem does not import CVXPY.
"""

from sop_pipeline.common.lazy import lazy_getattr

_SOURCE = {
    "PlanResult": "result", "PLAN_COLUMNS": "result", "COST_COLUMNS": "result", "STRATEGIES": "result",
    "plan": "strategies", "plan_all": "strategies", "plan_families": "strategies",
    "resource_requirements": "strategies",
}
__all__ = list(_SOURCE)

__getattr__ = lazy_getattr(__name__, _SOURCE)
