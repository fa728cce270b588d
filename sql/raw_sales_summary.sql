-- The sales rows and source files a cycle was planned from (for sop.plan_runs).
SELECT count(*), string_agg(DISTINCT source_file, ', ') FROM raw.sales_history WHERE plan_cycle = $c
