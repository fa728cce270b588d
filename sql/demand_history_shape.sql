-- The demand history's shape for the blocking check: rows, duplicated family/SKU/month rows, families.
SELECT count(*), count(*) - count(DISTINCT (family, sku, month)), count(DISTINCT family)
FROM draft.demand_history WHERE plan_cycle = $c
