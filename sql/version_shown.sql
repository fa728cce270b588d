-- The version sop.* shows for a cycle.
SELECT version FROM sop.plan_runs WHERE plan_cycle = $c
