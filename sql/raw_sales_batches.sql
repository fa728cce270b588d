-- The raw rows of one cycle, as the data checks read them (insertion order is file order).
-- table_order (the row id) orders example rows as the files hold them.
-- sale_day (days since 1970-01-01) lets the date-range expectation compare integers, not datetimes.
SELECT rowid AS table_order, source_file, source_row, sale_date_text, sale_date,
       date_diff('day', DATE '1970-01-01', sale_date) AS sale_day,
       sku, family, units_text, units, revenue_text, revenue
FROM raw.sales_history
WHERE plan_cycle = $plan_cycle;
