-- The published cycles a backfill must know: how each was made (run_kind: NULL in rows written before it
-- existed, i.e. live runs) and with which settings.
SELECT plan_cycle, run_kind, settings_hash FROM sop.plan_runs ORDER BY plan_cycle;
