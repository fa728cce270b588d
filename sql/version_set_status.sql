-- Set one version's status ($s).
UPDATE sop_versions.plan_runs SET status = $s WHERE plan_cycle = $c AND version = $v
