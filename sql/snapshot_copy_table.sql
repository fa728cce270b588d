-- Copy one published table (all cycles) into the snapshot file.
CREATE TABLE snapshot.sop.{table} AS SELECT * FROM sop.{table} ORDER BY ALL
