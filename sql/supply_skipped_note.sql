-- Why supply planning was skipped for a published cycle (no rows when it was planned).
SELECT supply_note FROM sop.plan_runs WHERE plan_cycle = $c AND supply_status = 'skipped'
