-- Every table of sop_versions carries the version its rows belong to.
ALTER TABLE sop_versions.{table} ADD COLUMN IF NOT EXISTS version INTEGER
