"""Aggregate production planning: the problem format, level/chase/optimal plans, diagnoses."""

from sop_pipeline.planning.problem import (Problem, load_problem, merge_params, parse_problem,
                                           problem_from_settings)
from sop_pipeline.planning.result import COST_COLUMNS, PLAN_COLUMNS, STRATEGIES, PlanResult
from sop_pipeline.planning.strategies import plan, plan_all, plan_families, resource_requirements

__all__ = ["Problem", "load_problem", "parse_problem", "problem_from_settings", "merge_params", "PlanResult",
           "PLAN_COLUMNS", "COST_COLUMNS", "STRATEGIES", "plan", "plan_all", "plan_families",
           "resource_requirements"]
