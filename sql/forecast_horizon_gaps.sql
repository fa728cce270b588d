-- Series whose forecast does not cover exactly the horizon months from the cycle on.
SELECT level, series_key, count(*) AS months, min(month) AS first_month, max(month) AS last_month
FROM draft.forecast
WHERE plan_cycle = $plan_cycle
GROUP BY level, series_key, family
HAVING count(*) <> $horizon OR min(month) <> $plan_cycle::DATE
    OR max(month) <> ($plan_cycle::DATE + to_months($horizon - 1))::DATE
LIMIT 5;
