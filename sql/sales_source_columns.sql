-- The columns a sales source would yield ({reader}: a read_csv/read_parquet call).
DESCRIBE SELECT * FROM {reader}
