-- Rows of one version of a cycle in a table ({table}: sop_versions.name).
SELECT count(*) FROM {table} WHERE plan_cycle = $c AND version = $v
