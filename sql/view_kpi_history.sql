-- sop.kpi_history: one row per published cycle, the figures a meeting follows from cycle to cycle.
--   accuracy (against the actuals known now; NULL until the months have happened), ALL FAMILIES, from
--     sop.forecast_value_added_by_cycle: WAPE and bias of the consensus plan at lags 1 and 3, and the lag-1
--     WAPE of the statistical and seasonal naive forecasts;
--   the cycle's plan over its horizon: fill rate and peak capacity utilisation of the published plan
--     (scenario 'base' of sop.scenario_comparison; the work centres' peak from sop.capacity_plan), days of
--     supply (average ending inventory / average daily demand, 365/12 days a month) and inventory turns
--     (annual demand / average ending inventory) of the chosen strategy in sop.production_plan;
--   revenue against budget over the months the budget covers (sop.budget_gap, ALL FAMILIES).
CREATE OR REPLACE VIEW sop.kpi_history AS
WITH accuracy AS (
    SELECT plan_cycle,
           max(consensus_wape) FILTER (WHERE lag = '1') AS wape_lag1,
           max(consensus_bias) FILTER (WHERE lag = '1') AS bias_lag1,
           max(consensus_wape) FILTER (WHERE lag = '3') AS wape_lag3,
           max(consensus_bias) FILTER (WHERE lag = '3') AS bias_lag3,
           max(statistical_wape) FILTER (WHERE lag = '1') AS statistical_wape_lag1,
           max(naive_wape) FILTER (WHERE lag = '1') AS naive_wape_lag1
    FROM forecast_value_added_by_cycle
    WHERE family = 'ALL FAMILIES'
    GROUP BY plan_cycle
),
service AS (
    SELECT plan_cycle, fill_rate, peak_capacity_utilization AS peak_labour_utilization,
           planned_units, planned_revenue, total_cost
    FROM scenario_comparison
    WHERE scenario = 'base' AND family = 'ALL FAMILIES'
),
work_centres AS (
    SELECT plan_cycle, max(utilization) AS peak_work_centre_utilization
    FROM capacity_plan
    WHERE family = 'ALL FAMILIES' AND resource <> 'plant labour'
    GROUP BY plan_cycle
),
stock AS (
    SELECT pp.plan_cycle, pp.month, sum(pp.demand) AS demand, sum(pp.ending_inventory) AS ending_inventory
    FROM production_plan AS pp
    JOIN strategy_comparison AS sc
      ON sc.plan_cycle = pp.plan_cycle AND sc.family = pp.family AND sc.strategy = pp.strategy
    WHERE sc.chosen
    GROUP BY ALL
),
inventory AS (
    SELECT plan_cycle, avg(ending_inventory) / nullif(avg(demand) * 12 / 365, 0) AS days_of_supply,
           avg(demand) * 12 / nullif(avg(ending_inventory), 0) AS inventory_turns
    FROM stock
    GROUP BY plan_cycle
),
budget AS (
    SELECT plan_cycle, sum(budget_revenue) AS budget_revenue, sum(planned_revenue) AS budget_months_planned_revenue,
           sum(revenue_gap) AS revenue_gap,
           sum(revenue_gap) / nullif(sum(budget_revenue), 0) AS revenue_gap_pct
    FROM budget_gap
    WHERE family = 'ALL FAMILIES' AND budget_revenue IS NOT NULL
    GROUP BY plan_cycle
)
SELECT r.plan_cycle, r.run_kind,
       a.wape_lag1, a.bias_lag1, a.wape_lag3, a.bias_lag3, a.statistical_wape_lag1, a.naive_wape_lag1,
       s.fill_rate, i.days_of_supply, i.inventory_turns,
       greatest(s.peak_labour_utilization, w.peak_work_centre_utilization) AS peak_capacity_utilization,
       s.peak_labour_utilization, w.peak_work_centre_utilization,
       s.planned_units, s.planned_revenue, s.total_cost,
       b.budget_revenue, b.budget_months_planned_revenue, b.revenue_gap, b.revenue_gap_pct
FROM plan_runs AS r
LEFT JOIN accuracy AS a USING (plan_cycle)
LEFT JOIN service AS s USING (plan_cycle)
LEFT JOIN work_centres AS w USING (plan_cycle)
LEFT JOIN inventory AS i USING (plan_cycle)
LEFT JOIN budget AS b USING (plan_cycle);
