-- Make one version ($v) of a cycle the plan_runs row sop.plan_runs shows (it keeps its version column).
INSERT INTO sop.plan_runs BY NAME SELECT * FROM sop_versions.plan_runs WHERE plan_cycle = $c AND version = $v
