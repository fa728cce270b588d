-- The file behind the current catalog.
SELECT path FROM duckdb_databases() WHERE database_name = current_database()
