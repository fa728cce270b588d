-- Attach a DuckDB file under an alias ({path} is a quoted literal; {options} e.g. (READ_ONLY)).
ATTACH {path} AS {alias} {options}
