-- Proposed versions of a cycle older than version $v are superseded by it.
UPDATE sop_versions.plan_runs SET status = 'superseded' WHERE plan_cycle = $c AND version < $v AND status = 'proposed'
