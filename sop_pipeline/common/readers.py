"""Reading the files people write by hand: YAML settings and problems, and the small CSV or Excel
files of planners (new-product catalogue, consensus overrides).

Every cell is read as text and checked here, so a problem is reported with the file, its line
number (as an editor shows it: the header is line 1; in Excel, the sheet and the row number), the
column, the value and what to write instead. All problems of a file are reported at once, so the
planner fixes it in one go.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from sop_pipeline.common.errors import InputDataError, SettingsError, SopError
from sop_pipeline.common.limits import MAX_VALUE

MAX_LISTED_PROBLEMS = 20
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")


def is_excel(path: str | Path) -> bool:
    return str(path).lower().endswith(EXCEL_SUFFIXES)


def excel_sheet_name(path: str | Path) -> str:
    """The name of the workbook's first sheet (the one read)."""
    import fastexcel

    return fastexcel.read_excel(str(path)).sheet_names[0]


def read_excel_sheet(path: str | Path, what: str, as_text: bool) -> pl.DataFrame:
    """The first sheet of a workbook (header in row 1), read with Polars' Excel reader (calamine).

    `as_text`: every cell as text, with date cells as ISO dates (`2027-01-01`, not `2027-01-01 00:00:00`)."""
    try:
        frame = pl.read_excel(path, sheet_id=1, infer_schema_length=0 if as_text else 1000)
    except Exception as exc:  # fastexcel raises its own error types for corrupt or non-Excel files
        raise InputDataError(f"The {what} is not a readable Excel workbook: {str(exc).splitlines()[0][:200]}",
                             where=str(path), fix="Save it from Excel as .xlsx (or export it as CSV)") from None
    if as_text:
        frame = frame.with_columns(pl.col(pl.String).str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "$1"))
    return frame


class Problems:
    """Problems found in one file, raised together as one InputDataError."""

    def __init__(self, path: str | Path, what: str):
        # In a workbook, the sheet and its row numbers (the header is row 1, as for a CSV's line 1).
        excel = is_excel(path) and Path(path).is_file()
        self.path = f"{path}, sheet {excel_sheet_name(path)!r}" if excel else str(path)
        self.line_word = "row" if excel else "line"
        self.what = what
        self.items: list[str] = []

    def add(self, line: int | None, column: str | None, message: str) -> None:
        place = ", ".join(p for p in (f"{self.line_word} {line}" if line else "",
                                      f"column {column}" if column else "") if p)
        self.items.append(f"{place}: {message}" if place else message)

    def raise_if_any(self, fix: str) -> None:
        if not self.items:
            return
        listed = self.items[:MAX_LISTED_PROBLEMS]
        more = len(self.items) - len(listed)
        raise InputDataError(f"The {self.what} has {len(self.items)} problem(s)", where=self.path, fix=fix,
                             problems=listed + ([f"... and {more} more"] if more else []))


def read_text_table(path: str | Path, what: str, required: tuple[str, ...],
                    optional: tuple[str, ...]) -> pl.DataFrame:
    """The file as text columns (blank cells are null), plus `line`; columns checked by name."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"The {what} file does not exist", where=str(path),
                             fix="Correct its path in sop.yaml, or remove the key to plan without it")
    if is_excel(path):
        frame = read_excel_sheet(path, what, as_text=True)
    else:
        raw = path.read_bytes()
        decode_utf8(raw, path, what, InputDataError)
        try:
            frame = pl.read_csv(raw, infer_schema=False)
        except pl.exceptions.NoDataError:
            frame = pl.DataFrame(schema={c: pl.String for c in required})
        except (pl.exceptions.ComputeError, UnicodeDecodeError) as exc:
            raise InputDataError(f"The {what} is not a readable CSV file: {str(exc).splitlines()[0]}",
                                 where=str(path), fix="Save it as comma-separated UTF-8 text with a header row") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    problems = Problems(path, what)
    unknown = [c for c in frame.columns if c not in required + optional]
    missing = [c for c in required if c not in frame.columns]
    allowed = ", ".join(required + optional)
    for column in unknown:
        problems.add(1, column, f"unknown column {column!r}; the columns are {allowed}")
    for column in missing:
        problems.add(1, column, f"required column {column!r} is missing")
    problems.raise_if_any(f"Correct the header row ({problems.line_word} 1)")
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in frame.columns)
    frame = frame.with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                               for c in frame.columns)
    for column in optional:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))


def parse_number(text: str) -> float | None:
    """The cell as a number; None if it is not one, or not finite, or beyond `MAX_VALUE` in size."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if abs(value) <= MAX_VALUE else None  # NaN and inf fail the comparison


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """The same key twice in one mapping (PyYAML would silently keep the last one)."""

    def __init__(self, key, first_mark, second_mark):
        self.key = key
        self.first_line = first_mark.line + 1
        super().__init__(None, None, f"the key {key!r} appears twice (lines {first_mark.line + 1} and "
                                     f"{second_mark.line + 1})", second_mark)


class StrictYamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys: two `Cookware:` entries with different settings
    are a mistake to report, not a choice to make silently."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *anchor` merges may be overridden, that is their purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue  # an unhashable key: the base constructor reports it
                if first is not key_node.start_mark:
                    raise DuplicateKeyError(key, first, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def decode_utf8(raw: bytes, path, what: str, error: type[SopError] = SettingsError) -> str:
    """The file's text; where it is not UTF-8 (a Latin-1 export), `error` names the line and the byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(f"The {what} is not UTF-8 text (byte {raw[exc.start]:#04x} is not UTF-8; "
                    "Latin-1 or Windows-1252 text?)", where=f"{path}, line {line}",
                    fix="Save it as UTF-8 (in Excel: Save As, 'CSV UTF-8'; in editors: Save As, Encoding)") from None


def read_yaml_file(path: Path, what: str) -> Any:
    """The file's YAML (or, for `.json`, JSON) data; an unreadable file raises SettingsError saying where.

    `what` names the file in messages ("settings file", "planning-problem file").
    """
    text = decode_utf8(path.read_bytes(), path, what)
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_json_object_no_duplicates)
        return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateJsonKey as exc:
        raise SettingsError(f"The {what} names the key {exc.key!r} twice in the same object",
                            where=str(path), fix=f"Keep one {exc.key!r} entry (merge their values)") from None
    except DuplicateKeyError as exc:
        raise SettingsError(
            f"The {what} names the key {exc.key!r} twice in the same mapping (first on line {exc.first_line}); "
            "YAML would silently keep only the last one",
            where=f"{path}, line {exc.problem_mark.line + 1}",
            fix=f"Keep one {exc.key!r} entry (merge their settings) and run again") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        raise SettingsError(f"The {what} is not valid YAML: {getattr(exc, 'problem', exc)}",
                            where=where, fix="Fix the YAML syntax") from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"The {what} is not valid JSON: {exc.msg}",
                            where=f"{path}, line {exc.lineno}", fix="Fix the JSON syntax") from None


class _DuplicateJsonKey(ValueError):
    def __init__(self, key):
        self.key = key
        super().__init__(key)


def _json_object_no_duplicates(pairs):
    data = dict(pairs)
    if len(data) < len(pairs):
        seen: set = set()
        raise _DuplicateJsonKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return data
