-- The meeting's decision log: one row per decision on a cycle's plan version (approved, adopted
-- scenario, rejected, deferred) or on one of its exceptions (accepted, mitigated, deferred).
-- subject: the exception (its exception_id) or scenario the decision answers, NULL for the plan itself.
CREATE TABLE IF NOT EXISTS sop.decisions (
    plan_cycle DATE NOT NULL, version INTEGER, decision VARCHAR NOT NULL, subject_kind VARCHAR,
    subject VARCHAR, scenario VARCHAR, decided_by VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL, note VARCHAR
);
