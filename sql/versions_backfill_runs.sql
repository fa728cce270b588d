-- Upgrade: the plan_runs rows of cycles published before versions existed, as version 1 (proposed).
INSERT INTO sop_versions.plan_runs BY NAME
SELECT * REPLACE (1 AS version, 'proposed' AS status) FROM sop.plan_runs WHERE version IS NULL;
UPDATE sop.plan_runs SET version = 1, status = 'proposed' WHERE version IS NULL
