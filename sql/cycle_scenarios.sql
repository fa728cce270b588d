-- The scenarios of a cycle ({schema}: draft or sop), base first then by name, for sop.plan_runs.scenarios.
SELECT string_agg(scenario || CASE WHEN status = 'planned' THEN '' ELSE ' (infeasible)' END, ', '
                  ORDER BY scenario <> 'base', scenario)
FROM {schema}.scenario_comparison
WHERE plan_cycle = $plan_cycle AND family = 'ALL FAMILIES'
