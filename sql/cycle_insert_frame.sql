-- Insert a registered frame (_incoming) as one plan cycle's rows, columns matched by name.
INSERT INTO {table} BY NAME SELECT $c::DATE AS plan_cycle, * FROM _incoming
