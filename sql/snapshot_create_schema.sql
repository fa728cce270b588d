-- The published-plans snapshot: the sop schema in the attached snapshot file.
CREATE SCHEMA snapshot.sop
