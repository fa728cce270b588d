-- The first and last months with a readable sale in one sales file (the plan cycles it can serve).
-- Template slots as in raw_sales_load.sql: {reader}, {parse_date} and the quoted source columns.
SELECT date_trunc('month', min({parse_date}))::DATE, date_trunc('month', max({parse_date}))::DATE FROM {reader};
