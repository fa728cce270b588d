-- Every published cycle, with the version sop.* shows and its status.
SELECT plan_cycle, version, status FROM sop.plan_runs ORDER BY plan_cycle
