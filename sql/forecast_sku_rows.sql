-- The SKU-level statistical forecast of a cycle, the demand plan's starting point.
SELECT family, sku, month, yhat FROM draft.forecast WHERE plan_cycle = $c AND level = 'sku'
ORDER BY family, sku, month
