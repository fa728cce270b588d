-- Monthly demand per family and SKU for one plan cycle, from the validated raw sales.
-- Only whole months before the cycle count as history. Months with no sales between a SKU's first
-- and last sale are filled with zero, so a gap reads as "sold nothing", not "no data".
WITH sales AS (
    SELECT family, sku, date_trunc('month', sale_date)::DATE AS month,
           -- Exact decimal sums: a float sum's result depends on the order threads add rows in,
           -- and two runs on the same input must publish the same numbers.
           sum(units::DECIMAL(38, 6)) AS units, sum(coalesce(revenue, 0)::DECIMAL(38, 4)) AS revenue,
           count(*) AS order_lines
    FROM raw.sales_history
    WHERE plan_cycle = $plan_cycle AND sale_date < $plan_cycle::DATE
    GROUP BY ALL
),
span AS (
    SELECT family, sku, min(month) AS first_month, max(month) AS last_month FROM sales GROUP BY ALL
),
calendar AS (
    SELECT family, sku, unnest(generate_series(first_month, last_month, INTERVAL 1 MONTH))::DATE AS month
    FROM span
)
SELECT $plan_cycle::DATE AS plan_cycle, c.family, c.sku, c.month,
       coalesce(s.units, 0)::DOUBLE AS units, coalesce(s.revenue, 0)::DOUBLE AS revenue,
       coalesce(s.order_lines, 0)::BIGINT AS order_lines
FROM calendar c
LEFT JOIN sales s USING (family, sku, month)
ORDER BY c.family, c.sku, c.month;
