"""Sales-history ingest: the user's CSV or Parquet files, read by DuckDB's own readers, or Excel
workbooks, read by Polars' Excel reader (first sheet) and handed to DuckDB as a registered frame.

Structural problems (no such file, empty or binary file, a mapped column that is not there) stop
the load with an `InputDataError`. Content problems (a date that does not parse, units that are not
numbers, ...) are loaded as NULLs beside the original text and caught by the data checks, which
can then report every kind of problem with example rows at once.
"""

from __future__ import annotations

import csv
import glob as globlib
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from sop_pipeline.common.errors import InputDataError
from sop_pipeline.common.months import add_months
from sop_pipeline.common.readers import EXCEL_SUFFIXES, read_excel_sheet
from sop_pipeline.config.schema import DECIMAL_YEAR, MONTH_NUMBER, SalesSettings, Settings
from sop_pipeline.store.db import count_cycle, quote_ident, sql_text, statement

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
ALL_LABEL = "all"  # the series name used where the files have no family or SKU column


@dataclass(frozen=True)
class SalesSource:
    files: tuple[str, ...]
    kind: str  # "csv" | "parquet" | "excel"


def _kind_of(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(EXCEL_SUFFIXES):
        return "excel"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def resolve_sales_files(path: Path) -> SalesSource:
    """The files behind `sales.path`: a file, a glob or a folder of CSV or Parquet files."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(f for f in globlib.glob(text, recursive=True) if os.path.isfile(f))
        if not files:
            raise InputDataError("No sales files match the pattern", where=f"sales.path = {text}",
                                 fix="Check the folder and the pattern in sop.yaml")
    elif path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.is_file() and _kind_of(str(p)))
        if not files:
            raise InputDataError("The sales folder holds no CSV, Parquet or Excel files", where=str(path),
                                 fix="Put the sales files (.csv, .parquet or .xlsx) in it or point sales.path at them")
    elif path.is_file():
        files = [str(path)]
    else:
        raise InputDataError("The sales file does not exist", where=str(path),
                             fix="Check sales.path in sop.yaml (relative paths start at the settings file's folder)")

    kinds = {_kind_of(f) or "csv" for f in files}  # an unknown suffix is read as CSV, and checked as text
    if len(kinds) > 1:
        raise InputDataError("The sales files mix formats (CSV, Parquet, Excel)", where=", ".join(files[:4]),
                             fix="Point sales.path at files of one format")
    kind = kinds.pop()
    for f in files:
        _check_file_looks_right(f, kind)
    return SalesSource(tuple(files), kind)


def _check_file_looks_right(path: str, kind: str) -> None:
    size = os.path.getsize(path)
    if size == 0:
        raise InputDataError("The sales file is empty", where=path,
                             fix="Export the sales history again; the file has no header and no rows")
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if kind == "parquet":
        if not head.startswith(b"PAR1"):
            raise InputDataError("The file is not a Parquet file", where=path,
                                 fix="Export it as Parquet or CSV with the right file extension")
        return
    if kind == "excel":
        return  # the Excel reader says what is wrong with a workbook it cannot read
    if path.lower().endswith(".gz"):
        return
    if b"\x00" in head:
        raise InputDataError("The sales file is binary, not CSV text", where=path,
                             fix="Export the sales history as CSV (UTF-8 text) or Parquet")


def _reader_sql(conn, file: str, kind: str, sales: SalesSettings, as_text: bool) -> tuple[str, dict]:
    """The DuckDB reader over `$file`. `as_text` reads every column as text: slower, but it cannot
    fail on a value, so the data checks can report it with its row."""
    if kind == "parquet":
        return "read_parquet($file)", {}
    if kind == "excel":
        return _register_workbook(conn, file), {}
    params: dict = {}
    options = "header=true, quote='\"', escape='\"'"
    if as_text:
        options += ", all_varchar=true"
    elif sales.date_format:
        # A formatted date is parsed by strptime below, so read it as text.
        options += ", types=$types"
        params["types"] = {sales.columns.date: "VARCHAR"}
    if sales.delimiter:
        options += ", delim=$delim"
        params["delim"] = sales.delimiter
    return f"read_csv($file, {options})", params


_WORKBOOK_VIEW = "_sales_workbook"


def _register_workbook(conn, file: str) -> str:
    """The workbook's first sheet registered in `conn` as a view (rows in sheet order); its name.

    Every cell is text (dates as ISO dates), like a CSV read as text: the load's SQL then converts and
    checks it exactly as for CSV, so bad cells reach the data checks with their row."""
    frame = read_excel_sheet(file, "sales file", as_text=True)
    conn.register(_WORKBOOK_VIEW, frame.to_arrow())
    return _WORKBOOK_VIEW


def _execute(conn, statement: str, params: dict):
    """Run a statement with the parameters it names (a registered workbook's reader takes no `$file`)."""
    return conn.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})


def source_columns(conn, source: SalesSource, sales: SalesSettings) -> list[str]:
    """The column names of every file (they must all have the mapped columns)."""
    names: list[str] = []
    for file in source.files:
        reader, params = _reader_sql(conn, file, source.kind, sales, as_text=True)
        try:
            rows = _execute(conn, statement("sales_source_columns", reader=reader), {**params, "file": file}).fetchall()
        except duckdb.Error as exc:
            raise _read_error(exc, file, "Check that it is a CSV with a header row (or Parquet), UTF-8 encoded") from None
        if source.kind == "csv":
            _check_rows_match_header(file, [r[0] for r in rows], sales.delimiter)
        names += [r[0] for r in rows if r[0] not in names]
    return names


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _read_error(exc: Exception, file: str, fix: str) -> InputDataError:
    """DuckDB's reader error in the planner's words, with the line DuckDB names."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f"{file}, line {line.group(1)}" if line else file
    if "Invalid unicode" in text:
        return InputDataError("The sales file is not UTF-8 text (Latin-1 or Windows-1252?)", where=where,
                              fix="Save it as UTF-8 (in Excel: Save As, 'CSV UTF-8'), or convert it, "
                                  "e.g. iconv -f latin1 -t utf-8")
    return InputDataError(f"DuckDB could not read the sales file: {_first_line(exc)}", where=where, fix=fix)


def _check_rows_match_header(file: str, names: list[str], delimiter: str | None) -> None:
    """Where a row has more fields than the header, DuckDB's sniffer takes a data row for the header
    (so every mapped column seems missing): find that row and say so instead."""
    if file.lower().endswith(".gz"):
        return
    with open(file, newline="", encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
        try:
            dialect = csv.Sniffer().sniff(first, delimiters=delimiter or ",;\t|")
        except csv.Error:
            return
        header = next(csv.reader([first], dialect), [])
        if not header or set(header) & set(names):
            return  # DuckDB read the header row as the header
        fh.seek(0)
        for line_number, row in enumerate(csv.reader(fh, dialect), start=1):
            if row and len(row) != len(header):
                raise InputDataError(
                    f"Line {line_number} of the sales file has {len(row)} fields but the header row has "
                    f"{len(header)} ({', '.join(header)})", where=f"{file}, line {line_number}",
                    fix="Remove the extra fields or quote the cells that contain the delimiter, then run again")


def _column_expr(mapped: str | None, available: list[str], key: str, required: bool, files, default_sql="NULL"):
    if mapped is None:
        if required:
            raise InputDataError(f"sales.columns.{key} must name a column", where="sop.yaml")
        return default_sql
    if mapped not in available:
        near = [c for c in available if c.lower() == mapped.lower()]
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise InputDataError(
            f"The sales file has no column {mapped!r} (mapped by sales.columns.{key}); it has: "
            + ", ".join(repr(c) for c in available[:20]),
            where=", ".join(files[:3]),
            fix=f"Set sales.columns.{key} in sop.yaml to the file's column name.{hint}",
        )
    return quote_ident(mapped)


def _source_sql(conn, settings: Settings) -> tuple[SalesSource, dict, str]:
    """The files, the SQL slots for the user's columns and the date-parse expression (checked against the files)."""
    sales = settings.sales
    source = resolve_sales_files(settings.sales_path)
    available = source_columns(conn, source, sales)
    cols = sales.columns
    slots = {
        "date": _column_expr(cols.date, available, "date", True, source.files),
        "units": _column_expr(cols.units, available, "units", True, source.files),
        "family": _column_expr(cols.family, available, "family", False, source.files, f"'{ALL_LABEL}'"),
        "revenue": _column_expr(cols.revenue, available, "revenue", False, source.files),
    }
    # Without a SKU column the data is at family level (the usual S&OP grain): each family is one
    # series, its own SKU. Without either, the whole history is one series "all".
    slots["sku"] = (_column_expr(cols.sku, available, "sku", False, source.files) if cols.sku is not None
                    else slots["family"])
    if sales.date_format == DECIMAL_YEAR:
        months = f"CAST(round(TRY_CAST(CAST({slots['date']} AS VARCHAR) AS DOUBLE) * 12) AS BIGINT)"
        parse_date = f"make_date(CAST({months} // 12 AS INTEGER), CAST({months} % 12 + 1 AS INTEGER), 1)"
    elif sales.date_format == MONTH_NUMBER:
        parse_date = (f"CAST($first_month::DATE + to_months(CAST(TRY_CAST(CAST({slots['date']} AS VARCHAR) "
                      f"AS DOUBLE) AS BIGINT) - 1) AS DATE)")
    elif sales.date_format and source.kind == "excel":
        # A workbook may hold real date cells (read as ISO text) beside text dates in the file's format.
        parse_date = (f"COALESCE(TRY_CAST({slots['date']} AS DATE), "
                      f"TRY_STRPTIME(CAST({slots['date']} AS VARCHAR), $date_format)::DATE)")
    elif sales.date_format:
        parse_date = f"TRY_STRPTIME(CAST({slots['date']} AS VARCHAR), $date_format)::DATE"
    else:
        parse_date = f"TRY_CAST({slots['date']} AS DATE)"
    return source, slots, parse_date


def load_sales(conn, settings: Settings, cycle: date, before: date | None = None) -> dict:
    """Replace `raw.sales_history` rows of the cycle with the sales files' rows (with `before`, only
    those dated before it: a backfilled cycle reads the history as it stood then).

    Returns a summary (files, rows) for the run's metadata.
    """
    source, slots, parse_date = _source_sql(conn, settings)
    loaded_at = datetime.now().replace(microsecond=0)
    # No transaction around the files: a statement that fails inserts nothing, which lets a file be
    # retried as text, and raw.sales_history is staging (nothing is published from a failed load).
    conn.execute(sql_text("raw_sales_delete_cycle"), {"plan_cycle": cycle})
    sales = settings.sales
    sku_is_family = sales.columns.sku is None
    for file in source.files:
        _run_on_file(conn, "raw_sales_load", file, source.kind, sales, slots, parse_date,
                     {"plan_cycle": cycle, "file": file, "loaded_at": loaded_at, "sku_is_family": sku_is_family,
                      "before": before})
    blanks = {"plan_cycle": cycle, "missing_family": sales.missing_family, "missing_sku": sales.missing_sku,
              "sku_is_family": sku_is_family}
    for step in sql_text("raw_sales_fill_blank").split(";\n"):
        if step.strip() and not all(line.startswith("--") for line in step.strip().splitlines()):
            _execute(conn, step, blanks)
    dropped = len(conn.execute(sql_text("raw_sales_drop_blank"), {"plan_cycle": cycle}).fetchall()) \
        if sales.drop_blank_rows else 0
    rows = count_cycle(conn, "raw.sales_history", cycle)
    return {"files": list(source.files), "rows": int(rows), "format": source.kind, "dropped_blank_rows": dropped}


def _run_on_file(conn, statement_name: str, file: str, kind: str, sales: SalesSettings, slots: dict,
                 parse_date: str, params: dict) -> list:
    """Run a statement over one file: typed read first (fast); where a value does not convert, the whole
    file as text. Returns the statement's rows."""
    if sales.date_format == MONTH_NUMBER:
        params = {**params, "first_month": f"{sales.first_month}-01"}
    elif sales.date_format and sales.date_format != DECIMAL_YEAR:
        params = {**params, "date_format": sales.date_format}
    last_error = None
    for as_text in ((False, True) if kind == "csv" else (False,)):
        reader, reader_params = _reader_sql(conn, file, kind, sales, as_text)
        statement = sql_text(statement_name).format(reader=reader, parse_date=parse_date, **slots)
        try:
            return _execute(conn, statement, {**params, **reader_params}).fetchall()
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            last_error = exc  # a value did not convert: read the file again as text
            continue
        except duckdb.Error as exc:
            last_error = exc
            break
    raise _read_error(last_error, file, "Check the file's encoding (UTF-8), delimiter (sales.delimiter) and quoting")


def sales_month_range(settings: Settings, required: bool = True) -> tuple[date | None, date | None]:
    """The first days of the first and last months with a parseable sale (the cycles it can serve).

    Reads only the date column of each file; the full load happens once, in the run. With no
    readable date at all: an error, or (None, None) when not `required` (the run's data checks then
    show the rows whose dates do not parse)."""
    conn = duckdb.connect()
    try:
        source, slots, parse_date = _source_sql(conn, settings)
        ranges = [_run_on_file(conn, "raw_sales_month_range", file, source.kind, settings.sales, slots, parse_date,
                               {"file": file})[0] for file in source.files]
    finally:
        conn.close()
    firsts = [first for first, _last in ranges if first is not None]
    lasts = [last for _first, last in ranges if last is not None]
    if not lasts:
        if not required:
            return None, None
        raise InputDataError("No sale in the sales history has a readable date",
                             where=str(settings.sales_path),
                             fix="Set sales.date_format in sop.yaml (e.g. \"%m/%d/%Y\") or pass --cycle")
    return min(firsts), max(lasts)


def last_sales_month(settings: Settings) -> date:
    """The first day of the last month with a parseable sale (for the default plan cycle)."""
    return sales_month_range(settings)[1]


def default_cycle(settings: Settings) -> date:
    """docs/contracts.md, "Command line": the cycle is the month after the last month of sales history."""
    return add_months(last_sales_month(settings), 1)


def check_cycle(cycle: date, first_month: date | None, last_cycle: date) -> None:
    """docs/contracts.md, "Command line": a cycle can be planned when it is after the first month of sales (there is history
    before it) and at most `last_cycle` (12 months past today)."""
    if first_month is not None and cycle <= first_month:
        raise InputDataError(
            f"The plan cycle {cycle:%Y-%m} is not after the first month of sales ({first_month:%Y-%m}): "
            "there is no history before it to forecast from", where="--cycle",
            fix=f"Pass --cycle with a month from {add_months(first_month, 1):%Y-%m} on, or leave it out to plan the "
                "month after the last sale")
    if cycle > last_cycle:
        raise InputDataError(
            f"The plan cycle {cycle:%Y-%m} is more than 12 months past today (the latest is {last_cycle:%Y-%m})",
            where="--cycle", fix=f"Pass --cycle with a month up to {last_cycle:%Y-%m}")


@dataclass(frozen=True)
class RawRows:
    """The cycle's raw rows where they are (`relation` over `conn`, for checks run in DuckDB); iterated,
    pandas chunks of at most `rows` rows (bounded memory)."""

    conn: object
    cycle: date
    rows: int
    order_by: str = "table_order"  # insertion order: file order, then row order

    @property
    def relation(self) -> str:
        return sql_text("raw_sales_batches")

    @property
    def params(self) -> dict:
        return {"plan_cycle": self.cycle}

    def __iter__(self):
        reader = self.conn.sql(self.relation, params=self.params).to_arrow_reader(self.rows)
        for batch in reader:
            yield batch.to_pandas(date_as_object=False)


def raw_batches(conn, cycle: date, rows: int) -> RawRows:
    """The cycle's raw rows: checked in DuckDB by `ingest.validation`, or iterated as pandas chunks."""
    return RawRows(conn, cycle, rows)
