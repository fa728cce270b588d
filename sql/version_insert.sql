-- A new version of one cycle of a table: the draft rows, tagged with the version ($v).
INSERT INTO sop_versions.{table} BY NAME SELECT *, $v AS version FROM draft.{table} WHERE plan_cycle = $c
