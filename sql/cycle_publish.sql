-- Publish one cycle of a table: copy its draft rows into sop.
INSERT INTO sop.{table} BY NAME SELECT * FROM draft.{table} WHERE plan_cycle = $c
