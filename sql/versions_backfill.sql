-- Upgrade: cycles published before versions existed become version 1 of themselves.
INSERT INTO sop_versions.{table} BY NAME
SELECT *, 1 AS version FROM sop.{table}
WHERE plan_cycle IN (SELECT plan_cycle FROM sop.plan_runs WHERE version IS NULL)
