-- Replace one cycle's raw sales with the rows of the user's files.
-- Template slots (filled only with quoted identifiers or fixed SQL, never with user values):
--   {reader}   read_csv($files, ...) or read_parquet($files, ...)
--   {date} {sku} {family} {units} {revenue}: the user's column names, quoted, or NULL / 'all'
--   {parse_date}: the date parse expression over the text column `d`
-- Parameters: $plan_cycle, $files, $date_format (and CSV options inside {reader}).
INSERT INTO raw.sales_history
SELECT
    $plan_cycle::DATE,
    filename,
    row_number() OVER (PARTITION BY filename),
    now()::TIMESTAMP,
    d,
    {parse_date},
    sku,
    family,
    u,
    TRY_CAST(u AS DOUBLE),
    r,
    TRY_CAST(r AS DOUBLE)
FROM (
    SELECT
        filename,
        NULLIF(TRIM(CAST({date} AS VARCHAR)), '') AS d,
        NULLIF(CAST({sku} AS VARCHAR), '') AS sku,
        NULLIF(CAST({family} AS VARCHAR), '') AS family,
        NULLIF(TRIM(CAST({units} AS VARCHAR)), '') AS u,
        NULLIF(TRIM(CAST({revenue} AS VARCHAR)), '') AS r
    FROM {reader}
);
