-- sop.plan_over_plan: each published cycle's plan against the previous published cycle, by family
-- and month: planned units, production and ending inventory of the chosen strategy, total cost.
-- "Previous" is the latest earlier plan_cycle in sop.plan_runs. Only months from the cycle on are
-- compared (earlier months of the previous plan have become history). A family or month present in
-- only one of the two plans keeps NULLs on the other side, so changes of scope stay visible.
-- Table names are unqualified on purpose: DuckDB binds a view's names in the view's own schema (sop),
-- so the view works whatever catalog name the file is attached under (plan, sop, ...).
CREATE OR REPLACE VIEW sop.plan_over_plan AS
WITH cycles AS (
    SELECT plan_cycle, lag(plan_cycle) OVER (ORDER BY plan_cycle) AS previous_cycle
    FROM (SELECT DISTINCT plan_cycle FROM plan_runs)
),
pairs AS (
    SELECT plan_cycle, previous_cycle FROM cycles WHERE previous_cycle IS NOT NULL
),
demand AS (
    SELECT plan_cycle, family, month, sum(planned_units) AS planned_units
    FROM demand_plan
    GROUP BY ALL
),
production AS (
    SELECT pp.plan_cycle, pp.family, pp.month, pp.strategy,
           coalesce(pp.regular_units, 0) + coalesce(pp.overtime_units, 0)
               + coalesce(pp.subcontract_units, 0) AS production,
           pp.ending_inventory, pp.total_cost
    FROM production_plan AS pp
    JOIN strategy_comparison AS sc
      ON sc.plan_cycle = pp.plan_cycle AND sc.family = pp.family AND sc.strategy = pp.strategy
    WHERE sc.chosen
),
figures AS (
    SELECT * FROM demand FULL JOIN production USING (plan_cycle, family, month)
),
current_plan AS (
    SELECT p.plan_cycle, p.previous_cycle, f.family, f.month, f.strategy, f.planned_units,
           f.production, f.ending_inventory, f.total_cost
    FROM pairs AS p JOIN figures AS f ON f.plan_cycle = p.plan_cycle
),
previous_plan AS (
    SELECT p.plan_cycle, p.previous_cycle, f.family, f.month, f.strategy AS previous_strategy,
           f.planned_units AS previous_planned_units, f.production AS previous_production,
           f.ending_inventory AS previous_ending_inventory, f.total_cost AS previous_total_cost
    FROM pairs AS p JOIN figures AS f ON f.plan_cycle = p.previous_cycle
)
SELECT
    plan_cycle, previous_cycle, family, month, strategy, previous_strategy,
    planned_units, previous_planned_units,
    planned_units - previous_planned_units AS planned_units_change,
    100 * (planned_units - previous_planned_units) / nullif(previous_planned_units, 0) AS planned_units_pct_change,
    production, previous_production,
    production - previous_production AS production_change,
    100 * (production - previous_production) / nullif(previous_production, 0) AS production_pct_change,
    ending_inventory, previous_ending_inventory,
    ending_inventory - previous_ending_inventory AS ending_inventory_change,
    100 * (ending_inventory - previous_ending_inventory) / nullif(previous_ending_inventory, 0) AS ending_inventory_pct_change,
    total_cost, previous_total_cost,
    total_cost - previous_total_cost AS total_cost_change,
    100 * (total_cost - previous_total_cost) / nullif(previous_total_cost, 0) AS total_cost_pct_change
FROM current_plan FULL JOIN previous_plan USING (plan_cycle, previous_cycle, family, month)
WHERE month >= plan_cycle;
