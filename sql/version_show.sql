-- Make one version ($v) of a cycle the rows sop.{table} shows (after its cycle rows were deleted).
INSERT INTO sop.{table} BY NAME SELECT * EXCLUDE (version) FROM sop_versions.{table} WHERE plan_cycle = $c AND version = $v
