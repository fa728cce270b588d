-- Recent family forecast bias: the published cycles of the last $months_back months before $plan_cycle,
-- their family forecasts for the first months ahead (lag 0-2, as sop.forecast_accuracy_over_time buckets
-- them), against the actuals known to this cycle: its own monthly history (draft.demand_history), never a
-- later cycle's, so a backfilled cycle sees what it would have seen then.
-- bias = sum(forecast - actual) / sum(actual) (positive: too high).
WITH actuals AS (
    SELECT family, month, sum(units) AS actual_units
    FROM draft.demand_history WHERE plan_cycle = $plan_cycle
    GROUP BY ALL
),
paired AS (
    SELECT f.plan_cycle, coalesce(f.family, f.series_key) AS family, f.yhat AS forecast_units, a.actual_units
    FROM sop.forecast AS f
    JOIN actuals AS a ON a.family = coalesce(f.family, f.series_key) AND a.month = f.month
    WHERE f.level = 'family'
      AND date_diff('month', f.plan_cycle, f.month) BETWEEN 0 AND 2
      AND f.plan_cycle < $plan_cycle
      AND f.plan_cycle >= $plan_cycle - to_months($months_back)
)
SELECT family, min(plan_cycle) AS first_cycle, max(plan_cycle) AS last_cycle,
       count(*) AS n_months, sum(forecast_units - actual_units) / sum(actual_units) AS bias
FROM paired
GROUP BY family
HAVING sum(actual_units) > 0
ORDER BY family;
