-- init: the first and last date of a column's values (registered as v) in a date format.
-- {parse}: TRY_CAST(v AS DATE) or TRY_STRPTIME(v, $fmt)::DATE.
SELECT min({parse}), max({parse}) FROM v
