-- (schema, name) of every table and view of the current catalog.
SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database()
