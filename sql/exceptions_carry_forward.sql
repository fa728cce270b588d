-- Carry forward into the cycle being published ($c, draft.exceptions) the exceptions the previous published
-- cycle left open (no decision, or deferred): one that recurs keeps the cycle it was first raised in
-- (carried_from); one that does not recur is added as it was.
CREATE OR REPLACE TEMP TABLE _still_open AS
WITH previous AS (SELECT max(plan_cycle) AS plan_cycle FROM sop.plan_runs WHERE plan_cycle < $c),
latest AS (
    SELECT subject, arg_max(decision, rowid) AS decision FROM sop.decisions
    WHERE plan_cycle = (SELECT plan_cycle FROM previous) AND subject_kind = 'exception' GROUP BY subject
)
SELECT e.* EXCLUDE (carried_from), coalesce(e.carried_from, e.plan_cycle) AS carried_from
FROM sop.exceptions e LEFT JOIN latest l ON l.subject = e.exception_key
WHERE e.plan_cycle = (SELECT plan_cycle FROM previous) AND (l.decision IS NULL OR l.decision = 'deferred');

UPDATE draft.exceptions d SET carried_from = o.carried_from
FROM _still_open o WHERE d.plan_cycle = $c AND d.exception_key = o.exception_key AND d.carried_from IS NULL;

INSERT INTO draft.exceptions BY NAME
SELECT * REPLACE ($c AS plan_cycle) FROM _still_open o
WHERE NOT EXISTS (SELECT 1 FROM draft.exceptions d WHERE d.plan_cycle = $c AND d.exception_key = o.exception_key);

DROP TABLE _still_open
