"""Typed Dagster metadata for the tables the assets write."""


import dagster as dg
import polars as pl

_TYPE_NAMES = {pl.Date: "DATE", pl.Utf8: "VARCHAR", pl.Float64: "DOUBLE", pl.Int64: "BIGINT",
               pl.Int32: "INTEGER", pl.Boolean: "BOOLEAN", pl.Datetime: "TIMESTAMP"}


def _type_name(dtype) -> str:
    for base, name in _TYPE_NAMES.items():
        if dtype == base or dtype.base_type() == base:
            return name
    return str(dtype)


def markdown_table(frame: pl.DataFrame, rows: int = 10, digits: int = 2) -> str:
    """A small Markdown rendering of a frame's first rows."""
    head = frame.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    for row in head.iter_rows():
        cells = [f"{v:,.{digits}f}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def table_metadata(frame: pl.DataFrame, table: str, preview_rows: int = 10, **extra) -> dict:
    """Row count, column schema, table name and a Markdown preview for a MaterializeResult."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _type_name(dtype))
                                     for name, dtype in frame.schema.items()])
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height),
        "dagster/column_schema": schema,
        "dagster/table_name": dg.MetadataValue.text(table),
        "preview": dg.MetadataValue.md(markdown_table(frame, preview_rows)),
        **extra,
    }


def check_result(errors: list[str], ok: str, **metadata) -> dg.AssetCheckResult:
    """A blocking check's result: failed with every error found, or passed with `ok`."""
    return dg.AssetCheckResult(passed=not errors, severity=dg.AssetCheckSeverity.ERROR,
                               description="; ".join(errors) or ok, metadata=metadata)
