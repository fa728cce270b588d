-- Rows of one plan cycle in a table ({table}: schema.table).
SELECT count(*) FROM {table} WHERE plan_cycle = $c
