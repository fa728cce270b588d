-- sop.forecast_value_added_by_cycle: per published cycle, family (and 'ALL FAMILIES') and lag, how the seasonal
-- naive forecast, the statistical forecast and the consensus demand plan did against the actuals known now
-- (rows of sop.demand_waterfall with an actual and a naive forecast, so all three are scored on the same
-- months). lag is '1'..'6' (months ahead; 1 = the cycle's own month) or 'horizon' (every month of the plan).
-- WAPE = sum|forecast - actual| / sum actual over family-months (for ALL FAMILIES too: errors of families
-- do not cancel); bias = sum(forecast - actual) / sum actual (positive: too high). The value a step adds is
-- the WAPE it removes: statistical_value_added = naive_wape - statistical_wape, consensus_value_added =
-- statistical_wape - consensus_wape (negative: the adjustments made the forecast worse).
CREATE OR REPLACE VIEW sop.forecast_value_added_by_cycle AS
WITH scored AS (
    SELECT * FROM demand_waterfall WHERE actual_units IS NOT NULL AND naive_units IS NOT NULL
),
bucketed AS (
    SELECT *, CAST(lag_months AS VARCHAR) AS lag, lag_months AS lag_order FROM scored WHERE lag_months <= 6
    UNION ALL
    SELECT *, 'horizon' AS lag, 99 AS lag_order FROM scored
),
levels AS (
    SELECT * FROM bucketed
    UNION ALL
    SELECT * REPLACE ('ALL FAMILIES' AS family) FROM bucketed
),
sums AS (
    SELECT plan_cycle, family, lag, min(lag_order) AS lag_order, count(*) AS n_months,
           sum(actual_units) AS actual_units,
           sum(abs(naive_units - actual_units)) AS naive_abs_error, sum(naive_units - actual_units) AS naive_error,
           sum(abs(statistical_units - actual_units)) AS statistical_abs_error,
           sum(statistical_units - actual_units) AS statistical_error,
           sum(abs(planned_units - actual_units)) AS consensus_abs_error,
           sum(planned_units - actual_units) AS consensus_error
    FROM levels
    GROUP BY plan_cycle, family, lag
)
SELECT plan_cycle, family, lag, lag_order, n_months, actual_units,
       naive_abs_error, naive_error, statistical_abs_error, statistical_error, consensus_abs_error, consensus_error,
       naive_abs_error / nullif(actual_units, 0) AS naive_wape,
       statistical_abs_error / nullif(actual_units, 0) AS statistical_wape,
       consensus_abs_error / nullif(actual_units, 0) AS consensus_wape,
       naive_error / nullif(actual_units, 0) AS naive_bias,
       statistical_error / nullif(actual_units, 0) AS statistical_bias,
       consensus_error / nullif(actual_units, 0) AS consensus_bias,
       (naive_abs_error - statistical_abs_error) / nullif(actual_units, 0) AS statistical_value_added,
       (statistical_abs_error - consensus_abs_error) / nullif(actual_units, 0) AS consensus_value_added,
       (naive_abs_error - consensus_abs_error) / nullif(actual_units, 0) AS total_value_added
FROM sums;
