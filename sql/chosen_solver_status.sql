-- The chosen strategy's solver status for a cycle's draft plan (one value, or the distinct values
-- when families differ, e.g. 'optimal, optimal_inaccurate'); NULL when nothing was planned.
SELECT string_agg(DISTINCT solver_status, ', ' ORDER BY solver_status) AS solver_status
FROM draft.strategy_comparison
WHERE plan_cycle = $plan_cycle AND chosen
