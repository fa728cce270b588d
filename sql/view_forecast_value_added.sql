-- sop.forecast_value_added: sop.forecast_value_added_by_cycle pooled over every published cycle whose months
-- now have actuals, per family (and 'ALL FAMILIES') and lag ('1'..'6', 'horizon'). The errors are summed
-- before dividing, so a cycle weighs by its volume; it changes as actuals arrive (it is a view).
CREATE OR REPLACE VIEW sop.forecast_value_added AS
WITH pooled AS (
    SELECT family, lag, min(lag_order) AS lag_order, count(*) AS n_cycles, min(plan_cycle) AS first_cycle,
           max(plan_cycle) AS last_cycle, sum(n_months) AS n_months, sum(actual_units) AS actual_units,
           sum(naive_abs_error) AS naive_abs_error, sum(naive_error) AS naive_error,
           sum(statistical_abs_error) AS statistical_abs_error, sum(statistical_error) AS statistical_error,
           sum(consensus_abs_error) AS consensus_abs_error, sum(consensus_error) AS consensus_error
    FROM forecast_value_added_by_cycle
    GROUP BY family, lag
)
SELECT family, lag, lag_order, n_cycles, first_cycle, last_cycle, n_months, actual_units,
       naive_abs_error / nullif(actual_units, 0) AS naive_wape,
       statistical_abs_error / nullif(actual_units, 0) AS statistical_wape,
       consensus_abs_error / nullif(actual_units, 0) AS consensus_wape,
       naive_error / nullif(actual_units, 0) AS naive_bias,
       statistical_error / nullif(actual_units, 0) AS statistical_bias,
       consensus_error / nullif(actual_units, 0) AS consensus_bias,
       (naive_abs_error - statistical_abs_error) / nullif(actual_units, 0) AS statistical_value_added,
       (statistical_abs_error - consensus_abs_error) / nullif(actual_units, 0) AS consensus_value_added,
       (naive_abs_error - consensus_abs_error) / nullif(actual_units, 0) AS total_value_added
FROM pooled;
