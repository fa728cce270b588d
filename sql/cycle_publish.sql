-- Publish one cycle of a table: copy its draft rows into sop.
INSERT INTO sop.{table} SELECT * FROM draft.{table} WHERE plan_cycle = $c
