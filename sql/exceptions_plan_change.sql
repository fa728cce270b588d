-- Each family's planned units in the cycle being planned (draft.demand_plan) against the previous
-- published cycle (the latest earlier plan_cycle in sop.plan_runs), summed over the months both plans
-- cover from this cycle on: the family totals of sop.plan_over_plan, for a cycle not yet published.
-- Parameter: $plan_cycle. No rows when there is no earlier published cycle.
WITH previous AS (
    SELECT max(plan_cycle) AS previous_cycle FROM sop.plan_runs WHERE plan_cycle < $plan_cycle
),
current_plan AS (
    SELECT family, month, sum(planned_units) AS planned_units
    FROM draft.demand_plan WHERE plan_cycle = $plan_cycle
    GROUP BY ALL
),
previous_plan AS (
    SELECT d.family, d.month, sum(d.planned_units) AS previous_planned_units
    FROM sop.demand_plan AS d JOIN previous AS p ON d.plan_cycle = p.previous_cycle
    WHERE d.month >= $plan_cycle
    GROUP BY ALL
)
SELECT (SELECT previous_cycle FROM previous) AS previous_cycle, family,
       sum(planned_units) AS planned_units, sum(previous_planned_units) AS previous_planned_units,
       count(*) AS months
FROM current_plan JOIN previous_plan USING (family, month)
GROUP BY family
ORDER BY family;
