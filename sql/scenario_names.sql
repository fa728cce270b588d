-- The scenarios of a published cycle, base first then by name.
SELECT DISTINCT scenario FROM sop.scenario_comparison WHERE plan_cycle = $c ORDER BY scenario <> 'base', scenario
