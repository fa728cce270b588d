-- Rows of a sales file whose {column} is blank (`sop-pipeline init`, beyond the rows it looked at).
SELECT count(*) FROM {reader} WHERE {column} IS NULL OR TRIM(CAST({column} AS VARCHAR)) = '';
