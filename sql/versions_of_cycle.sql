-- The versions of one cycle, oldest first.
SELECT version, status, run_id, created_at, adopted_scenario FROM sop_versions.plan_runs WHERE plan_cycle = $c ORDER BY version
