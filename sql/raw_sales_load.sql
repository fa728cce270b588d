-- Append one sales file's rows to raw.sales_history for one plan cycle.
-- Template slots (filled only with quoted identifiers or fixed SQL, never with user values):
--   {reader}   read_csv($file, ...) or read_parquet($file)
--   {date} {sku} {family} {units} {revenue}: the user's column names, quoted, or NULL / 'all'
--   {parse_date}: the date parse expression over the source column {date}
-- Parameters: $plan_cycle, $file, $loaded_at, $sku_is_family, $before (and $date_format,
-- CSV options inside {reader}).
-- $before (a backfilled cycle: its first day) leaves out sales dated on or after it, so a past cycle reads
-- the history as it stood then; rows whose date does not parse stay, for the data checks. NULL: every row.
-- The original text is kept only where it did not parse, so the data checks can show it.
-- NaN and infinity ('inf' text, or in Parquet) count as not numbers.
INSERT INTO raw.sales_history
SELECT
    $plan_cycle::DATE,
    $file,
    source_row,
    $loaded_at::TIMESTAMP,
    CASE WHEN sale_date IS NULL THEN NULLIF(TRIM(CAST(date_value AS VARCHAR)), '') END,
    sale_date,
    sku,
    family,
    CASE WHEN units IS NULL THEN NULLIF(TRIM(CAST(units_value AS VARCHAR)), '') END,
    units,
    CASE WHEN revenue IS NULL THEN NULLIF(TRIM(CAST(revenue_value AS VARCHAR)), '') END,
    revenue
FROM (
    -- Without a SKU column the family is the SKU. Blank families and SKUs stay NULL here: raw_sales_fill_blank.sql
    -- gives them their names (sales.missing_family, sales.missing_sku) once every file is loaded.
    SELECT *, CASE WHEN $sku_is_family THEN family ELSE sku_given END AS sku
    FROM (
        SELECT
            -- numbered before the cut, so a row keeps its number in the file
            row_number() OVER () AS source_row,
            {date} AS date_value,
            {parse_date} AS sale_date,
            -- Blank (or only spaces) is no value.
            CASE WHEN TRIM(CAST({sku} AS VARCHAR)) <> '' THEN CAST({sku} AS VARCHAR) END AS sku_given,
            CASE WHEN TRIM(CAST({family} AS VARCHAR)) <> '' THEN CAST({family} AS VARCHAR) END AS family,
            {units} AS units_value,
            CASE WHEN isfinite(TRY_CAST({units} AS DOUBLE)) THEN TRY_CAST({units} AS DOUBLE) END AS units,
            {revenue} AS revenue_value,
            CASE WHEN isfinite(TRY_CAST({revenue} AS DOUBLE)) THEN TRY_CAST({revenue} AS DOUBLE) END AS revenue
        FROM {reader}
    ) AS parsed
    WHERE $before::DATE IS NULL OR sale_date IS NULL OR sale_date < $before::DATE
);
