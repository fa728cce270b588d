-- A cycle's decision log, oldest first.
SELECT * EXCLUDE (plan_cycle) FROM sop.decisions WHERE plan_cycle = $c ORDER BY decided_at, rowid
