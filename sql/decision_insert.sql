-- Record one decision.
INSERT INTO sop.decisions BY NAME SELECT $c AS plan_cycle, $v AS version, $d AS decision, $k AS subject_kind,
    $subject AS subject, $scenario AS scenario, $by AS decided_by, $at AS decided_at, $note AS note
