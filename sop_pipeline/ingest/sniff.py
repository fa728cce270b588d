"""Looking at a planner's sales file to propose its `sales` settings (`sop-pipeline init`).

Plain functions: read a sample of the file as text, find the column of dates and its format, the units,
revenue, SKU and family columns (by name first, checked against the content), and the families. What
cannot be decided from the file (two columns that could be the units, dates that read both day-first and
month-first) is returned as a question for the planner, beside the choice made, never decided silently.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from sop_pipeline.common.errors import InputDataError
from sop_pipeline.common.months import add_months
from sop_pipeline.common.readers import decode_utf8, is_excel, read_excel_sheet
from sop_pipeline.config.schema import DECIMAL_YEAR, MONTH_NUMBER
from sop_pipeline.store.db import quote_ident, statement

SAMPLE_ROWS = 200_000
# Date formats tried, in order of preference when several read every value (None: ISO, 2024-01-31).
DATE_FORMATS: tuple[str | None, ...] = (None, "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%Y/%m/%d",
                                        "%d.%m.%Y", "%d.%m.%y", "%d-%m-%Y", "%m-%d-%Y", "%Y-%m", "%b %Y",
                                        "%B %Y", "%d %b %Y")
_DAY_MONTH_SWAP = {"%m/%d/%Y": "%d/%m/%Y", "%m/%d/%y": "%d/%m/%y", "%m-%d-%Y": "%d-%m-%Y"}
_DAY_MONTH_SWAP |= {v: k for k, v in _DAY_MONTH_SWAP.items()}

# Column names, normalised (lower case, words joined by _), in order of preference.
DATE_NAMES = ("order_date", "sale_date", "sales_date", "invoice_date", "date", "ds", "day", "week", "month",
              "period", "transaction_date")
UNITS_NAMES = ("units", "unit_sales", "units_sold", "quantity", "qty", "volume", "pieces", "demand", "y", "value",
               "cases", "cartons", "boxes", "packs", "pallets", "scripts", "prescriptions", "shipments", "tons",
               "tonnes", "litres", "liters", "kg", "each")
REVENUE_NAMES = ("revenue", "net_sales", "sales", "sales_amount", "amount", "turnover", "sales_value", "value")
SKU_NAMES = ("sku", "product_id", "item_id", "article", "material", "part_number", "item", "product",
             "product_code", "item_code", "product_name", "item_name", "unique_id", "series_id", "series")
FAMILY_NAMES = ("family", "product_family", "sub_category", "subcategory", "product_line", "category", "group",
                "product_group", "department", "dept", "class", "brand", "store", "region")
MAX_FAMILIES = 500
DECIMAL_YEAR_NAMES = ("time", "year", "date", "period", "t")
MONTH_NUMBER_NAMES = ("t", "month", "period", "month_number", "month_index", "period_number", "time", "step")
# Columns of money, never the units sold (a cost column is not revenue either: it is left unmapped).
MONEY_NAMES = ("cost", "costs", "price", "amount", "revenue", "sales", "turnover", "margin", "profit", "aud", "usd",
               "eur", "gbp", "value")


@dataclass
class SalesGuess:
    """The proposed `sales` settings of a file, and what the planner must confirm."""

    path: Path
    columns: dict[str, str | None]  # date, sku, family, units, revenue -> the file's column (or None)
    date_format: str | None
    delimiter: str | None
    rows: int
    sampled_all: bool
    first_date: date | None
    last_date: date | None
    families: dict[str, float] = field(default_factory=dict)  # family -> units in the sample
    skus: int = 0
    has_negative_units: bool = False
    questions: list[str] = field(default_factory=list)
    all_columns: list[str] = field(default_factory=list)
    # Rows whose family (or SKU) is blank, in the whole file, and the name init gives them (sales.missing_*).
    blank_family_rows: int = 0
    blank_sku_rows: int = 0
    missing_family: str | None = None
    missing_sku: str | None = None
    first_month: date | None = None  # date_format month_number: the month that 1 stands for

    @property
    def months(self) -> int:
        if not self.first_date or not self.last_date:
            return 0
        return (self.last_date.year - self.first_date.year) * 12 + self.last_date.month - self.first_date.month + 1


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def sniff_delimiter(path: Path) -> str:
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        head = "".join(fh.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_sample(path: Path, rows: int = SAMPLE_ROWS) -> tuple[pl.DataFrame, str | None, bool]:
    """Up to `rows` rows of the file, every column as text (dates as ISO text); the CSV delimiter; whether
    the sample is the whole file."""
    lower = str(path).lower()
    delimiter = None
    try:
        if is_excel(path):
            frame = read_excel_sheet(path, "sales file", as_text=True)
        elif lower.endswith((".parquet", ".pq")):
            frame = pl.read_parquet(path, n_rows=rows + 1)
        else:
            # The ingest reads UTF-8 only: say so now rather than write settings that cannot run.
            decode_utf8(path.read_bytes(), path, "sales file", InputDataError)
            delimiter = sniff_delimiter(path)
            frame = pl.read_csv(path, separator=delimiter, infer_schema=False, n_rows=rows + 1,
                                encoding="utf8-lossy", truncate_ragged_lines=True)
    except InputDataError:
        raise
    except Exception as exc:  # Polars' readers raise many error types; the first line says what
        raise InputDataError(f"The sales file could not be read: {str(exc).splitlines()[0][:200]}", where=str(path),
                             fix="Give a CSV (UTF-8, header row), Parquet or Excel (.xlsx) file") from None
    sampled_all = frame.height <= rows
    frame = frame.head(rows).with_columns(
        pl.col(c).dt.strftime("%Y-%m-%d") if frame.schema[c] in (pl.Date, pl.Datetime) else pl.col(c).cast(pl.String)
        for c in frame.columns)
    frame = frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in frame.columns)
    if frame.height == 0 or not frame.columns:
        raise InputDataError("The sales file has no rows", where=str(path),
                             fix="Export the sales history with a header row and one row per sale")
    return frame, delimiter, sampled_all


def date_format_scores(values: pl.Series) -> dict[str | None, float]:
    """Share of the values each date format reads as a date between 1900 and 2100."""
    distinct = values.drop_nulls().unique(maintain_order=True).head(5000)
    if distinct.len() == 0 or _numeric_share(distinct.head(200)) > 0.5:
        return {}  # numbers are not dates (a year alone, or 1980.083, is not a sale's date)
    if distinct.len() > 200 and max(date_format_scores(distinct.head(200)).values(), default=0) < 0.98:
        return {}  # no format reads the first values: not a column of dates
    conn = duckdb.connect()
    try:
        conn.register("v", pl.DataFrame({"v": distinct}).to_arrow())
        scores = {}
        for fmt in DATE_FORMATS:
            parse = "TRY_CAST(v AS DATE)" if fmt is None else "TRY_STRPTIME(v, $fmt)::DATE"
            params = {} if fmt is None else {"fmt": fmt}
            read = conn.execute(statement("sniff_date_format_reads", parse=parse), params).fetchall()[0][0]
            scores[fmt] = read / distinct.len()
    finally:
        conn.close()
    return scores


def _numeric_share(values: pl.Series) -> float:
    present = values.drop_nulls()
    if present.len() == 0:
        return 0.0
    return present.cast(pl.Float64, strict=False).is_not_null().sum() / present.len()


def _by_name(columns: list[str], names: tuple[str, ...]) -> list[str]:
    """Columns named like one of `names`: exact names first, then names holding one as whole words
    (`Weekly_Sales` is like `sales`), each in the order of `names`."""
    ranked = []
    for column in columns:
        name = normalise(column)
        for rank, candidate in enumerate(names):
            if name == candidate:
                ranked.append((rank, column))
                break
            if re.search(rf"(^|_){candidate}($|_)", name):
                ranked.append((len(names) + rank, column))
                break
    return [c for _, c in sorted(ranked)]


def _id_like(name: str) -> bool:
    return bool(re.search(r"(^|_)(id|row|postal|zip|code|number|no|index|rownames)($|_)", normalise(name)))


def guess_sales(path: str | Path, rows: int = SAMPLE_ROWS) -> SalesGuess:
    """The proposed sales mapping of one file, with the planner's questions."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError("The sales file does not exist", where=str(path), fix="Give the path of a sales file")
    frame, delimiter, sampled_all = read_sample(path, rows)
    questions: list[str] = []
    columns = list(frame.columns)

    # Dates: columns where one format reads (nearly) every value; the best-named first.
    dated = {}
    for c in columns:
        scores = date_format_scores(frame[c])
        readable = [fmt for fmt, share in scores.items() if share >= 0.98]
        if readable:
            dated[c] = readable
    if not dated:
        decimal = next((c for c in _by_name(columns, DECIMAL_YEAR_NAMES) if _decimal_years(frame[c])), None)
        if decimal is not None:
            dated[decimal] = [DECIMAL_YEAR]
    first_month = None
    # A count of months, not a month of the year: it runs past 12, and no column holds the year.
    if not dated and not _by_name(columns, ("year", "yr", "fiscal_year")):
        counted = next((c for c in _by_name(columns, MONTH_NUMBER_NAMES) if _month_numbers(frame[c])), None)
        if counted is not None:
            dated[counted] = [MONTH_NUMBER]
            # A working answer: the highest number is last month, so the file plans the coming cycle.
            last = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
            highest = int(frame[counted].cast(pl.Float64, strict=False).max())
            first_month = add_months(last, 1 - highest)
            questions.append(f"{counted!r} counts months (1 to {highest:,}) with no calendar dates: date_format is "
                             f"{MONTH_NUMBER} and first_month {first_month:%Y-%m} (month 1), so month {highest:,} is "
                             f"{last:%Y-%m}. Write the real month of 1 if you know it.")
    if not dated:
        raise InputDataError(
            "No column of the sales file holds dates that sop-pipeline can read (columns: "
            + ", ".join(columns[:20]) + ")", where=str(path),
            fix="Add a column with each sale's date (e.g. 2024-01-31 or 01/31/2024) and run init again")
    date_col = (_by_name(list(dated), DATE_NAMES) + list(dated))[0]
    others = [c for c in dated if c != date_col]
    if others:
        questions.append(f"Sales are dated by {date_col!r}; {', '.join(map(repr, others))} also hold(s) dates. "
                         "If another column is the sale's date, set sales.columns.date to it.")
    formats = dated[date_col]
    date_format = formats[0]
    if date_format == DECIMAL_YEAR:
        questions.append(f"{date_col!r} holds years with a fraction (1980.0833 = February 1980): date_format is "
                         f"{DECIMAL_YEAR}. If it is something else, give the file a column of dates.")
    swapped = _DAY_MONTH_SWAP.get(date_format) if date_format else None
    if swapped is not None and swapped in formats:
        questions.append(f"The dates in {date_col!r} read both month-first ({date_format}) and day-first "
                         f"({swapped}): no day above 12 in the file. {date_format} is written; if your dates are "
                         f"day-first, write {swapped}.")

    # Units and revenue: numeric columns, by name; never an id-like column.
    numeric = [c for c in columns if c != date_col and not _id_like(c) and _numeric_share(frame[c]) >= 0.98]
    units_candidates = _by_name(numeric, UNITS_NAMES)
    revenue_candidates = [c for c in _by_name(numeric, REVENUE_NAMES)]
    units = units_candidates[0] if units_candidates else None
    if len(units_candidates) > 1 and units_candidates[1] not in revenue_candidates:
        questions.append(f"Both {units!r} and {units_candidates[1]!r} could be the units sold; {units!r} is written. "
                         "If the other is, set sales.columns.units to it.")
    revenue_candidates = [c for c in revenue_candidates if c != units]
    revenue = revenue_candidates[0] if revenue_candidates else None
    if units is None:
        if revenue is not None:
            units, revenue = revenue, None
            questions.append(f"No column of units sold was found; {units!r} (money?) is planned as the units. "
                             "If the file has a quantity column, set sales.columns.units to it.")
        elif numeric:
            # Not a money column (a cost is not the units sold) nor a numbered label (product codes).
            plain = [c for c in numeric if not _by_name([c], MONEY_NAMES) and not _by_name([c], SKU_NAMES + FAMILY_NAMES)]
            units = (plain or numeric)[0]
            questions.append(f"No column named like units or quantity; {units!r} is planned as the units sold "
                             f"(the numeric columns: {', '.join(numeric)}).")
        else:
            raise InputDataError("No column of the sales file holds numbers to plan (units sold)", where=str(path),
                                 fix="Add a column with the units sold on each row and run init again")

    # SKU and family: text columns by name; a family groups rows (2 to MAX_FAMILIES values).
    measured = {date_col, units, revenue}
    labels = [c for c in columns if c not in measured]
    skus = _by_name(labels, SKU_NAMES)
    sku = next((c for c in skus if _id_like(c) or normalise(c) == "sku"), skus[0] if skus else None)
    families = [c for c in _by_name(labels, FAMILY_NAMES) if c != sku
                and 2 <= frame[c].n_unique() <= MAX_FAMILIES]
    family = families[0] if families else None
    if family and sku:
        per_sku = (frame.drop_nulls([sku, family]).group_by(sku).agg(pl.col(family).n_unique().alias("n"))
                   .filter(pl.col("n") > 1).height)
        if per_sku:
            questions.append(f"{per_sku} SKU(s) in {sku!r} appear under more than one {family!r}; a SKU must belong "
                             "to one family. Choose another family column or clean the file.")
    if len(families) > 1:
        questions.append(f"Families are taken from {family!r}; {', '.join(map(repr, families[1:]))} could group "
                         "the products too (set sales.columns.family to plan by another grouping).")

    units_values = frame[units].cast(pl.Float64, strict=False).fill_null(0)
    blank_family, blank_sku = (_blank_rows(path, frame, delimiter, sampled_all, [family, sku]))
    missing_family = _free_name(frame[family].drop_nulls().unique().to_list()) if blank_family else None
    missing_sku = "Unassigned" if blank_sku else None
    if blank_family:
        whose = (f"they take their SKU's family where the SKU has one elsewhere in the file, the others the family "
                 f"{missing_family!r}") if sku else f"they are planned as the family {missing_family!r}"
        questions.append(f"{blank_family:,} row(s) have a blank {family!r}: with sales.missing_family {whose}. To leave "
                         "them out instead, delete that line and set sales.drop_blank_rows: true; to plan them where "
                         "they belong, fill the column in the file.")
    if blank_sku:
        questions.append(f"{blank_sku:,} row(s) have a blank {sku!r}: each family's are planned as one SKU "
                         f"'{missing_sku} (<family>)' (sales.missing_sku). To leave them out instead, delete that line "
                         "and set sales.drop_blank_rows: true.")
    if family:
        by_family = (pl.DataFrame({"family": frame[family].fill_null(missing_family or ""), "units": units_values})
                     .group_by("family").agg(pl.col("units").sum()))
        # Numbered families (stores 1..45) in numeric order, names alphabetically.
        family_units = dict(sorted(zip(by_family["family"], by_family["units"]), key=lambda item: _natural(item[0])))
    else:
        family_units = {"all": float(units_values.sum())}
    parsed = _parse_dates(frame[date_col], date_format, first_month)
    negative = bool((units_values < 0).any())
    if negative:
        questions.append(f"{units!r} has negative values (returns?): allow_returns is true so they are accepted; "
                         "set it to false if they are mistakes.")
    return SalesGuess(path=path, columns={"date": date_col, "sku": sku, "family": family, "units": units,
                                          "revenue": revenue},
                      date_format=date_format, delimiter=delimiter if delimiter not in (None, ",") else None,
                      rows=frame.height, sampled_all=sampled_all, first_date=parsed[0], last_date=parsed[1],
                      families=family_units, skus=frame[sku].n_unique() if sku else 0, questions=questions,
                      has_negative_units=negative,
                      all_columns=columns, blank_family_rows=blank_family, blank_sku_rows=blank_sku,
                      missing_family=missing_family, missing_sku=missing_sku, first_month=first_month)


def _free_name(families: list[str]) -> str:
    """"Unassigned", or a variant no family of the file already has."""
    taken = {f.lower() for f in families}
    return next(name for name in ("Unassigned", "Unassigned family", "No family given", "Unassigned (blank)")
                if name.lower() not in taken)


def _blank_rows(path: Path, frame: pl.DataFrame, delimiter: str | None, sampled_all: bool,
                columns: list[str | None]) -> list[int]:
    """Rows whose value in each of `columns` (None: no such column, 0) is blank, over the whole file: a blank
    beyond the sample would otherwise stop the run that init promised would run."""
    if sampled_all or path.suffix.lower() not in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
        return [frame[c].null_count() if c else 0 for c in columns]
    reader = ("read_parquet($file)" if path.suffix.lower() in (".parquet", ".pq")
              else "read_csv($file, header=true, all_varchar=true, delim=$delim)")
    conn = duckdb.connect()
    try:
        counts = []
        for column in columns:
            if column is None:
                counts.append(0)
                continue
            query = statement("sniff_blank_rows", reader=reader, column=quote_ident(column))
            params = {"file": str(path)} | ({"delim": delimiter or ","} if "$delim" in query else {})
            counts.append(int(conn.execute(query, params).fetchall()[0][0]))
        return counts
    finally:
        conn.close()


def _month_numbers(values: pl.Series) -> bool:
    """Whole numbers from 1 (or near it) to past 12: months counted, not dated (nor a month of the year)."""
    numbers = values.drop_nulls().cast(pl.Float64, strict=False)
    if numbers.len() < 2 or numbers.null_count():
        return False
    return bool((numbers == numbers.floor()).all() and 1 <= numbers.min() <= 12 and 13 <= numbers.max() <= 1200)


def _decimal_years(values: pl.Series) -> bool:
    """Years with a fraction that is a whole month (1980.0833 = February 1980), as R's ts objects export them."""
    numbers = values.drop_nulls().cast(pl.Float64, strict=False)
    if numbers.len() < 2 or numbers.null_count():
        return False
    months = numbers * 12
    return bool(numbers.is_between(1800, 2200).all() and ((months - months.round()).abs() < 0.02).all()
                and (numbers != numbers.floor()).any())


def _natural(name: str) -> tuple:
    return (0, float(name), "") if re.fullmatch(r"-?\d+(\.\d+)?", name) else (1, 0.0, name)


def _parse_dates(values: pl.Series, fmt: str | None, first_month: date | None = None) -> tuple[date | None, date | None]:
    if fmt == MONTH_NUMBER:
        numbers = values.cast(pl.Float64, strict=False)
        return tuple(add_months(first_month, int(n) - 1) for n in (numbers.min(), numbers.max()))
    if fmt == DECIMAL_YEAR:
        months = (values.cast(pl.Float64, strict=False).drop_nulls() * 12).round().cast(pl.Int64)
        return tuple(date(int(m // 12), int(m % 12) + 1, 1) for m in (months.min(), months.max()))
    conn = duckdb.connect()
    try:
        conn.register("v", pl.DataFrame({"v": values}).to_arrow())
        parse = "TRY_CAST(v AS DATE)" if fmt is None else "TRY_STRPTIME(v, $fmt)::DATE"
        return tuple(conn.execute(statement("sniff_date_range", parse=parse), {} if fmt is None else {"fmt": fmt})
                     .fetchall()[0])
    finally:
        conn.close()
