-- A new version's plan_runs row, proposed ($v: the version).
INSERT INTO sop_versions.plan_runs BY NAME
SELECT * REPLACE ($v AS version, 'proposed' AS status) FROM draft.plan_runs WHERE plan_cycle = $c
