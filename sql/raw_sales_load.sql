-- Append one sales file's rows to raw.sales_history for one plan cycle.
-- Template slots (filled only with quoted identifiers or fixed SQL, never with user values):
--   {reader}   read_csv($file, ...) or read_parquet($file)
--   {date} {sku} {family} {units} {revenue}: the user's column names, quoted, or NULL / 'all'
--   {parse_date}: the date parse expression over the source column {date}
-- Parameters: $plan_cycle, $file, $loaded_at, $missing_family, $missing_sku, $sku_is_family (and $date_format,
-- CSV options inside {reader}).
-- The original text is kept only where it did not parse, so the data checks can show it.
-- NaN and infinity ('inf' text, or in Parquet) count as not numbers.
INSERT INTO raw.sales_history
SELECT
    $plan_cycle::DATE,
    $file,
    row_number() OVER (),
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
    -- A blank SKU takes sales.missing_sku within its family; without a SKU column the family is the SKU.
    SELECT *,
        CASE WHEN sku_given IS NOT NULL AND NOT $sku_is_family THEN sku_given
             WHEN $sku_is_family THEN family
             WHEN family IS NOT NULL THEN $missing_sku::VARCHAR || ' (' || family || ')' END AS sku
    FROM (
        SELECT
            {date} AS date_value,
            {parse_date} AS sale_date,
            -- Blank (or only spaces) is no value; sales.missing_family names the family of such rows.
            CASE WHEN TRIM(CAST({sku} AS VARCHAR)) <> '' THEN CAST({sku} AS VARCHAR) END AS sku_given,
            COALESCE(CASE WHEN TRIM(CAST({family} AS VARCHAR)) <> '' THEN CAST({family} AS VARCHAR) END,
                     $missing_family::VARCHAR) AS family,
            {units} AS units_value,
            CASE WHEN isfinite(TRY_CAST({units} AS DOUBLE)) THEN TRY_CAST({units} AS DOUBLE) END AS units,
            {revenue} AS revenue_value,
            CASE WHEN isfinite(TRY_CAST({revenue} AS DOUBLE)) THEN TRY_CAST({revenue} AS DOUBLE) END AS revenue
        FROM {reader}
    )
);
