-- Recent family forecast bias from sop.forecast_accuracy_over_time: the published cycles of the last
-- $months_back months before $plan_cycle, their forecasts for the first months ahead (lag 0-2), against
-- the actuals that have arrived since. bias = sum(forecast - actual) / sum(actual) (positive: too high).
SELECT family, min(plan_cycle) AS first_cycle, max(plan_cycle) AS last_cycle,
       sum(n_months) AS n_months, sum(error) / sum(actual_units) AS bias
FROM sop.forecast_accuracy_over_time
WHERE lag_bucket_start = 0
  AND plan_cycle < $plan_cycle
  AND plan_cycle >= $plan_cycle - to_months($months_back)
GROUP BY family
HAVING sum(actual_units) > 0
ORDER BY family;
