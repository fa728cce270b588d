-- Copy one cycle of a sop table back into a version of it (a scenario saved into the shown version);
-- {columns}: `*, $v AS version`, or for plan_runs (which has a version column) `* REPLACE ($v AS version)`.
INSERT INTO sop_versions.{table} BY NAME SELECT {columns} FROM sop.{table} WHERE plan_cycle = $c
