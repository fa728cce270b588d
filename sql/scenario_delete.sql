-- Remove one scenario of a published cycle ({table}: scenario_plan or scenario_comparison).
DELETE FROM sop.{table} WHERE plan_cycle = $c AND scenario = $s
