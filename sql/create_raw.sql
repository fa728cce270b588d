-- The loaded sales files, as read, one load per plan cycle. Text columns keep what the file said
-- so data checks can show the offending value; typed columns are NULL where the text did not parse.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.sales_history (
    plan_cycle DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,      -- 1-based data row within the file (the header is not counted)
    loaded_at TIMESTAMP NOT NULL,
    sale_date_text VARCHAR,
    sale_date DATE,
    sku VARCHAR,
    family VARCHAR,
    units_text VARCHAR,
    units DOUBLE,
    revenue_text VARCHAR,
    revenue DOUBLE
);
