-- Remove one version's rows of a table ({table}: sop_versions.name), before it is rewritten (a saved scenario).
DELETE FROM {table} WHERE plan_cycle = $c AND version = $v
