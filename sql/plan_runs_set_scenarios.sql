-- List a cycle's published scenarios in its plan_runs row (after what-if --save).
UPDATE sop.plan_runs SET scenarios = $n WHERE plan_cycle = $c
