-- The newest published plan cycle (NULL when none is published).
SELECT max(plan_cycle) FROM sop.plan_runs;
