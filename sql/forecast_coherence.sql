-- Largest gap, per month, between a family's forecast and the sum of its SKUs, and between the total
-- and the sum of the families. Zero (to rounding) when the hierarchy is coherent.
WITH f AS (SELECT * FROM draft.forecast WHERE plan_cycle = $plan_cycle),
sku_sum AS (SELECT family, month, sum(yhat) AS yhat FROM f WHERE level = 'sku' GROUP BY ALL),
fam AS (SELECT family, month, yhat FROM f WHERE level = 'family'),
fam_sum AS (SELECT month, sum(yhat) AS yhat FROM fam GROUP BY ALL),
total AS (SELECT month, yhat FROM f WHERE level = 'total')
SELECT 'family vs its SKUs' AS relation, fam.family AS series, fam.month,
       abs(fam.yhat - coalesce(sku_sum.yhat, 0)) AS gap
FROM fam LEFT JOIN sku_sum USING (family, month)
UNION ALL
SELECT 'total vs families', 'total', total.month, abs(total.yhat - coalesce(fam_sum.yhat, 0))
FROM total LEFT JOIN fam_sum USING (month)
ORDER BY gap DESC
LIMIT 5;
