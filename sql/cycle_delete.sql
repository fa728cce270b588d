-- Remove one plan cycle's rows of a table ({table}: schema.table).
DELETE FROM {table} WHERE plan_cycle = $c
