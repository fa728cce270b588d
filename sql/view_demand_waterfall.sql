-- sop.demand_waterfall: for each family and month, what every published cycle that planned it said, beside
-- the actual once it is known. One row per cycle, family and month of the cycle's horizon:
--   lag_months          months ahead: 1 is the cycle's own month (the first month after its last actual)
--   statistical_units   the statistical forecast (sop.demand_plan.statistical_forecast, summed over SKUs)
--   planned_units       the consensus demand plan (after new products and adjustments)
--   naive_units         the seasonal naive forecast made from the cycle's own history: the same month a year
--                       earlier (two years for lags 13-24); NULL where that history is too short
--   actual_units        units sold, from the newest published cycle's history (each cycle republishes the
--                       whole cleaned history, so the newest is the most complete); NULL until known.
-- Table names are unqualified on purpose: DuckDB binds a view's names in the view's own schema (sop).
CREATE OR REPLACE VIEW sop.demand_waterfall AS
WITH history AS (
    SELECT plan_cycle, family, month, sum(units) AS units FROM demand_history GROUP BY ALL
),
newest AS (
    SELECT max(plan_cycle) AS plan_cycle FROM demand_history
),
actuals AS (
    SELECT h.family, h.month, h.units AS actual_units
    FROM history AS h JOIN newest AS n ON h.plan_cycle = n.plan_cycle
),
plans AS (
    SELECT plan_cycle, family, month, date_diff('month', plan_cycle, month) + 1 AS lag_months,
           sum(coalesce(statistical_forecast, 0)) AS statistical_units, sum(planned_units) AS planned_units
    FROM demand_plan
    WHERE month >= plan_cycle
    GROUP BY ALL
)
SELECT p.month, p.family, p.plan_cycle, p.lag_months, p.statistical_units, p.planned_units,
       s.units AS naive_units, a.actual_units
FROM plans AS p
LEFT JOIN history AS s
  ON s.plan_cycle = p.plan_cycle AND s.family = p.family
 AND s.month = (p.month - to_months(12 * ((p.lag_months - 1) // 12 + 1)))::DATE
LEFT JOIN actuals AS a ON a.family = p.family AND a.month = p.month;
