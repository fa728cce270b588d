-- The last month with a readable sale in one sales file (for the default plan cycle).
-- Template slots as in raw_sales_load.sql: {reader}, {parse_date} and the quoted source columns.
SELECT date_trunc('month', max({parse_date}))::DATE FROM {reader};
