-- The exceptions of a published cycle (sop.exceptions), numbered as the report and the workbook number them
-- (most money at stake first), each with its latest decision in sop.decisions (NULL: open).
WITH latest AS (
    SELECT subject, arg_max(decision, rowid) AS decision, arg_max(decided_by, rowid) AS decided_by,
           arg_max(decided_at, rowid) AS decided_at, arg_max(note, rowid) AS decision_note,
           arg_max(scenario, rowid) AS decision_scenario
    FROM sop.decisions WHERE plan_cycle = $c AND subject_kind = 'exception' GROUP BY subject
)
SELECT row_number() OVER (ORDER BY e.money_at_stake DESC NULLS LAST, e.exception_key) AS number, e.* EXCLUDE (plan_cycle),
       l.decision, l.decided_by, l.decided_at, l.decision_note, l.decision_scenario
FROM sop.exceptions e LEFT JOIN latest l ON l.subject = e.exception_key
WHERE e.plan_cycle = $c
ORDER BY number
