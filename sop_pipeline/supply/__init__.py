"""Supply planning: level/chase/optimal plans per family (CVXPY/HiGHS), their diagnoses, and the
production, inventory and operating plans built from them. The problem format is `config.problem`.

Names load on first use (PEP 562): reading and checking a problem does not import CVXPY.
"""

from typing import TYPE_CHECKING

from sop_pipeline.common.lazy import lazy_getattr

if TYPE_CHECKING:  # the names below, for type checkers and editors; at run time they load on first use
    from sop_pipeline.supply.result import COST_COLUMNS, PLAN_COLUMNS, STRATEGIES, PlanResult
    from sop_pipeline.supply.strategies import plan, plan_all, plan_families, resource_requirements

_SOURCE = {
    "PlanResult": "result", "PLAN_COLUMNS": "result", "COST_COLUMNS": "result", "STRATEGIES": "result",
    "plan": "strategies", "plan_all": "strategies", "plan_families": "strategies",
    "resource_requirements": "strategies",
}
__all__ = ["COST_COLUMNS", "PLAN_COLUMNS", "STRATEGIES", "PlanResult", "plan", "plan_all", "plan_families",
           "resource_requirements"]
assert set(__all__) == set(_SOURCE)

__getattr__ = lazy_getattr(__name__, _SOURCE)
