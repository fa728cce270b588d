-- init: the share of a column's values (registered as v) that a date format reads as a plausible date.
-- {parse}: TRY_CAST(v AS DATE) or TRY_STRPTIME(v, $fmt)::DATE.
SELECT count(*) FILTER (WHERE year({parse}) BETWEEN 1900 AND 2100) FROM v
