-- sales.drop_blank_rows: leave out a cycle's raw rows whose family or SKU is blank (after sales.missing_family
-- and sales.missing_sku gave theirs); returns how many were left out.
DELETE FROM raw.sales_history
WHERE plan_cycle = $plan_cycle AND (family IS NULL OR sku IS NULL)
RETURNING 1;
