-- The first and last months with a readable sale in one sales file (the plan cycles it can serve).
-- Template slots as in raw_sales_load.sql: {reader}, {parse_date} and the quoted source columns.
-- The filter is not decoration: without it DuckDB 2.0 pushes the date parse, used by both min and max,
-- into the CSV reader as a strict cast, and one unreadable date fails the read instead of being skipped.
SELECT date_trunc('month', min(sale_date))::DATE, date_trunc('month', max(sale_date))::DATE
FROM (SELECT {parse_date} AS sale_date FROM {reader} WHERE {parse_date} IS NOT NULL);
