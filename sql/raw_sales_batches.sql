-- The raw rows of one cycle, as the data checks read them (insertion order is file order).
SELECT source_file, source_row, sale_date_text, sale_date, sku, family, units_text, units, revenue_text, revenue
FROM raw.sales_history
WHERE plan_cycle = $plan_cycle;
