DELETE FROM raw.sales_history WHERE plan_cycle = $plan_cycle;
