-- The backtest bias of the cycle's published family forecasts (method 'chosen' in draft.forecast_accuracy):
-- the evidence of bias for families with no earlier published forecasts to judge. Parameter: $plan_cycle.
SELECT coalesce(family, series_key) AS family, bias, n_points
FROM draft.forecast_accuracy
WHERE plan_cycle = $plan_cycle AND level = 'family' AND method = 'chosen' AND bias IS NOT NULL
ORDER BY family;
