-- sop.forecast_accuracy_over_time: how earlier cycles' published family forecasts compare with the
-- actuals that have arrived since. Actuals are the newest published cycle's sop.demand_history summed
-- to family and month (each cycle republishes the whole cleaned history, so the newest is the most
-- complete). Lag is month - plan_cycle in months (lag 0: the cycle's own month). Errors are summed
-- per cycle, family and lag bucket; WAPE = sum|forecast - actual| / sum actual (NULL when no units sold).
-- Table names are unqualified on purpose: DuckDB binds a view's names in the view's own schema (sop),
-- so the view works whatever catalog name the file is attached under (plan, sop, ...).
CREATE OR REPLACE VIEW sop.forecast_accuracy_over_time AS
WITH newest AS (
    SELECT max(plan_cycle) AS plan_cycle FROM plan_runs
),
actuals AS (
    SELECT h.family, h.month, sum(h.units) AS actual_units
    FROM demand_history AS h JOIN newest AS n ON h.plan_cycle = n.plan_cycle
    GROUP BY ALL
),
paired AS (
    SELECT f.plan_cycle, coalesce(f.family, f.series_key) AS family, f.month, f.method,
           date_diff('month', f.plan_cycle, f.month) AS lag_months,
           f.yhat AS forecast_units, a.actual_units
    FROM forecast AS f
    JOIN actuals AS a ON a.family = coalesce(f.family, f.series_key) AND a.month = f.month
    WHERE f.level = 'family' AND f.month >= f.plan_cycle
),
bucketed AS (
    SELECT *,
           CASE WHEN lag_months < 3 THEN 0 WHEN lag_months < 6 THEN 3 WHEN lag_months < 12 THEN 6 ELSE 12 END
               AS lag_bucket_start
    FROM paired
)
SELECT
    plan_cycle, family, lag_bucket_start,
    CASE lag_bucket_start WHEN 0 THEN '0-2' WHEN 3 THEN '3-5' WHEN 6 THEN '6-11' ELSE '12+' END AS lag_bucket,
    min(lag_months) AS min_lag_months, max(lag_months) AS max_lag_months,
    count(*) AS n_months, string_agg(DISTINCT method, ', ') AS method,
    sum(forecast_units) AS forecast_units, sum(actual_units) AS actual_units,
    sum(abs(forecast_units - actual_units)) AS abs_error,
    sum(forecast_units - actual_units) AS error,
    sum(abs(forecast_units - actual_units)) / nullif(sum(actual_units), 0) AS wape,
    sum(forecast_units - actual_units) / nullif(sum(actual_units), 0) AS bias
FROM bucketed
GROUP BY plan_cycle, family, lag_bucket_start;
