-- Names for a cycle's raw rows whose family or SKU is blank, once every sales file is loaded (statements run
-- in order, each with the parameters plan_cycle, missing_family, missing_sku and sku_is_family).
-- 1. With sales.missing_family set, a blank family of a SKU that has exactly one family elsewhere in the history
--    (a retired or half-filled code) takes that family, so the SKU stays in one family.
UPDATE raw.sales_history AS r SET family = known.family
FROM (SELECT sku, min(family) AS family FROM raw.sales_history
      WHERE plan_cycle = $plan_cycle AND family IS NOT NULL AND sku IS NOT NULL
      GROUP BY sku HAVING count(DISTINCT family) = 1) AS known
WHERE r.plan_cycle = $plan_cycle AND r.family IS NULL AND r.sku = known.sku AND $missing_family::VARCHAR IS NOT NULL
  AND NOT $sku_is_family;
-- 2. The other blank families: sales.missing_family (and, without a SKU column, the SKU too).
UPDATE raw.sales_history
SET family = $missing_family::VARCHAR, sku = CASE WHEN $sku_is_family THEN $missing_family::VARCHAR ELSE sku END
WHERE plan_cycle = $plan_cycle AND family IS NULL AND $missing_family::VARCHAR IS NOT NULL;
-- 3. Blank SKUs: sales.missing_sku within their family ("Unassigned (Binders)"), so no SKU spans two families.
UPDATE raw.sales_history SET sku = $missing_sku::VARCHAR || ' (' || family || ')'
WHERE plan_cycle = $plan_cycle AND sku IS NULL AND family IS NOT NULL AND $missing_sku::VARCHAR IS NOT NULL
  AND NOT $sku_is_family;
