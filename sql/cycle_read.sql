-- One plan cycle's rows, sorted so that sums over them are reproducible.
SELECT * EXCLUDE (plan_cycle) FROM {table} WHERE plan_cycle = $c ORDER BY ALL
