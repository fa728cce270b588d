-- The first and last months with a readable sale in one sales file (the plan cycles it can serve).
-- Template slots as in raw_sales_load.sql: {reader}, {parse_date} and the quoted source columns.
-- The filter is needed, not only tidy: without it DuckDB (1.4) pushes a TRY_CAST used twice into the CSV
-- scan as a plain conversion, and one unreadable date (2024-02-30) fails the whole scan.
SELECT date_trunc('month', min(sale_date))::DATE, date_trunc('month', max(sale_date))::DATE
FROM (SELECT {parse_date} AS sale_date FROM {reader})
WHERE sale_date IS NOT NULL;
