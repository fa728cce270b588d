"""The data-quality engine: suites of Great Expectations 1.x expectations defined in code.

The suites themselves live with their stage (`ingest.validation`, `forecasting.validation`).

Two engines run the same suite and give the same report:
- DuckDB (the default, `validate_table` / `validate_frames`): each expectation becomes the SQL predicate
  of its unexpected rows (GX's own definitions: nulls are ignored by value expectations, a pair is
  skipped when both values are missing); one scan counts every rule, and a second query per failing
  rule fetches its first example rows in table order. 50 million raw rows check in seconds, and the
  run does not import Great Expectations (5 s of CPU) at all.
- Great Expectations itself (`engine="gx"`), on pandas chunks of at most CHUNK_ROWS rows (results of
  the chunks merged: counts added, first examples kept). It is what the SQL engine is tested against
  (tests/ingest/test_sql_checks.py), and it runs any expectation the SQL engine has no predicate for.

Every failure carries example rows with their source file and row number, so a planner can find them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from sop_pipeline.common.sql_quoting import quote_ident

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from sop_pipeline.common.lazy import LazyModule  # noqa: E402

gx = LazyModule("great_expectations")  # imported by the first check that runs, not by the run's start-up
logging.getLogger("great_expectations").setLevel(logging.ERROR)

CHUNK_ROWS = 1_000_000
EXAMPLE_ROWS = 5
LOCATION_COLUMNS = ["source_file", "source_row"]


@dataclass
class ExpectationFailure:
    """One expectation that did not hold, in words a planner can act on."""

    expectation: str
    column: str | None
    problem: str
    unexpected_count: int = 0
    examples: list[dict] = field(default_factory=list)

    def describe(self) -> str:
        text = self.problem
        if self.unexpected_count:
            text += f" ({self.unexpected_count:,} row(s))"
        if self.examples:
            shown = "; ".join(
                ", ".join(f"{k}={v!r}" for k, v in ex.items()) for ex in self.examples[:3]
            )
            text += f"; for example: {shown}"
        return text


@dataclass
class ValidationReport:
    suite: str
    rows_checked: int
    failures: list[ExpectationFailure]

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return f"{self.suite}: all expectations met on {self.rows_checked:,} rows"
        return f"{self.suite}: " + " | ".join(f.describe() for f in self.failures)


@dataclass(frozen=True)
class Expectation:
    """A Great Expectations expectation by class name and arguments, made into GX's own object only
    when GX runs it (`to_gx`), so a suite can be built and run in DuckDB without importing GX."""

    type_name: str
    kwargs: tuple[tuple[str, object], ...]

    @property
    def args(self) -> dict:
        return dict(self.kwargs)

    def to_gx(self):
        return getattr(gx.expectations, self.type_name)(**self.args)


class _Expectations:
    """`expectations.ExpectColumnValuesToNotBeNull(column="sku")`: GX's spelling, no GX import."""

    def __getattr__(self, name: str):
        if not name.startswith("Expect"):
            raise AttributeError(name)
        return lambda **kwargs: Expectation(name, tuple(kwargs.items()))


expectations = _Expectations()


@dataclass(frozen=True)
class Rule:
    """An expectation plus the planner's description of what its failure means."""

    expectation: Expectation
    column: str | None
    problem: str
    shown_columns: tuple[str, ...] = ()


def _new_context():
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (date, datetime)):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


_NOT_NULL_CONDITION = re.compile(r"^\s*(\w+)\.notnull\(\)\s*$")


def unexpected_sql(expectation: Expectation) -> str | None:
    """The SQL predicate true on the rows GX counts as unexpected; None where there is no translation
    (GX then runs the rule). Value expectations ignore nulls, as GX's column map expectations do."""
    args = dict(expectation.args)
    condition = args.pop("row_condition", None)
    args.pop("condition_parser", None)
    name = expectation.type_name
    if name == "ExpectColumnValuesToNotBeNull":
        predicate = f"{quote_ident(args.pop('column'))} IS NULL"
    elif name == "ExpectColumnValuesToBeBetween":
        column = quote_ident(args.pop("column"))
        low, high = args.pop("min_value", None), args.pop("max_value", None)
        strict_min, strict_max = args.pop("strict_min", False), args.pop("strict_max", False)
        outside = []
        if low is not None:
            outside.append(f"{column} {'<=' if strict_min else '<'} {_literal(low)}")
        if high is not None:
            outside.append(f"{column} {'>=' if strict_max else '>'} {_literal(high)}")
        predicate = f"{column} IS NOT NULL AND ({' OR '.join(outside) or 'FALSE'})"
    elif name == "ExpectColumnPairValuesAToBeGreaterThanB":
        a, b = quote_ident(args.pop("column_A")), quote_ident(args.pop("column_B"))
        op = ">=" if args.pop("or_equal", False) else ">"
        if args.pop("ignore_row_if", "both_values_are_missing") != "both_values_are_missing":
            return None
        predicate = f"NOT ({a} IS NULL AND {b} IS NULL) AND NOT coalesce({a} {op} {b}, FALSE)"
    elif name == "ExpectColumnValuesToBeInSet":
        column = quote_ident(args.pop("column"))
        values = ", ".join(_literal(v) for v in args.pop("value_set"))
        predicate = f"{column} IS NOT NULL AND {column} NOT IN ({values})"
    else:
        return None
    if args:  # an argument this translation does not know (mostly, ...): let GX run it
        return None
    if condition is not None:
        match = _NOT_NULL_CONDITION.match(str(condition))
        if not match:
            return None
        predicate = f"{quote_ident(match.group(1))} IS NOT NULL AND ({predicate})"
    return predicate


def validate_table(conn, suite_name: str, relation: str, params: dict, rules: list[Rule],
                   order_by: str | None = None) -> ValidationReport:
    """Run the rules in DuckDB over the rows of `relation` (a SELECT with `$params`): one scan counts
    every rule's unexpected rows, then each failing rule's first EXAMPLE_ROWS rows (in `order_by`
    order) are fetched with their location columns."""
    rows, failures = _table_failures(conn, relation, params, rules, order_by)
    if rows == 0:
        failures[len(rules)] = _no_rows_failure()
    return ValidationReport(suite=suite_name, rows_checked=rows, failures=[failures[k] for k in sorted(failures)])


def _table_failures(conn, relation: str, params: dict, rules: list[Rule],
                    order_by: str | None) -> tuple[int, dict[int, ExpectationFailure]]:
    predicates = [unexpected_sql(rule.expectation) for rule in rules]
    missing = [rule.expectation.type_name for rule, p in zip(rules, predicates, strict=True) if p is None]
    if missing:
        raise ValueError(f"no SQL for {', '.join(missing)}: validate the frames with engine='gx'")
    relation = f"WITH checked AS ({relation.strip().rstrip(';')})"
    counts = "".join(f", count(*) FILTER (WHERE {p})" for p in predicates)
    row = conn.execute(f"{relation} SELECT count(*){counts} FROM checked", params).fetchone()
    if not any(row[1:]):
        return int(row[0]), {}
    # The relation's columns, for the examples: asked only when some rule failed.
    columns = [d[0] for d in conn.execute(f"{relation} SELECT * FROM checked LIMIT 0", params).description]
    order = f" ORDER BY {order_by}" if order_by else ""
    failures = {}
    for i, (rule, predicate, count) in enumerate(zip(rules, predicates, row[1:], strict=True)):
        if not count:
            continue
        shown = [c for c in (*LOCATION_COLUMNS, *rule.shown_columns) if c in columns]
        examples = conn.execute(f"{relation} SELECT {', '.join(quote_ident(c) for c in shown) or '*'} FROM checked "
                                f"WHERE {predicate}{order} LIMIT {EXAMPLE_ROWS}", params).fetchall()
        failures[i] = ExpectationFailure(
            expectation=_snake(rule.expectation.type_name), column=rule.column, problem=rule.problem,
            unexpected_count=int(count),
            examples=[_example(dict(zip(shown, values, strict=True)), rule.shown_columns) for values in examples])
    return int(row[0]), failures


def _snake(type_name: str) -> str:
    """GX's expectation type name: ExpectColumnValuesToNotBeNull -> expect_column_values_to_not_be_null."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()


def _no_rows_failure() -> ExpectationFailure:
    """The failure of a table or file with no rows (a check GX would add as a row-count expectation)."""
    return ExpectationFailure("expect_table_row_count_to_be_between", None,
                              "no sales rows at all (the file is empty or has only a header)")


def validate_frames(
    suite_name: str,
    chunks: Iterable[pd.DataFrame],
    rules: list[Rule],
    source_label: str | None = None,
    engine: str = "duckdb",
) -> ValidationReport:
    """Run the rules over each chunk and merge the results: in DuckDB where every rule has SQL
    (`unexpected_sql`), else (or with `engine="gx"`) as one GX suite per chunk."""
    if engine == "duckdb" and all(unexpected_sql(rule.expectation) is not None for rule in rules):
        return _validate_frames_in_duckdb(suite_name, chunks, rules)
    context = _new_context()
    data_source = context.data_sources.add_pandas(name=f"{suite_name}_source")
    asset = data_source.add_dataframe_asset(name=suite_name)
    batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    # GX does not promise results in the order expectations were added: match them by id.
    rule_by_id = {suite.add_expectation(rule.expectation.to_gx()).id: (i, rule) for i, rule in enumerate(rules)}

    merged: dict[int, ExpectationFailure] = {}
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        if chunk.empty:
            continue
        index_columns = [c for c in LOCATION_COLUMNS if c in chunk.columns]
        result = batch_definition.get_batch(batch_parameters={"dataframe": chunk}).validate(
            suite,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": index_columns,
                "partial_unexpected_count": EXAMPLE_ROWS,
                "return_unexpected_index_query": False,
            },
        )
        for outcome in result.results:
            if outcome.success:
                continue
            i, rule_def = rule_by_id[outcome.expectation_config.id]
            failure = merged.setdefault(i, ExpectationFailure(
                expectation=outcome.expectation_config.type, column=rule_def.column, problem=rule_def.problem))
            info = outcome.exception_info or {}
            if info.get("raised_exception"):
                failure.problem += f" (the check itself failed: {info.get('exception_message')})"
                continue
            failure.unexpected_count += int(outcome.result.get("unexpected_count") or 0)
            needed = EXAMPLE_ROWS - len(failure.examples)
            for idx in (outcome.result.get("unexpected_index_list") or [])[:max(needed, 0)]:
                failure.examples.append(_example_row(chunk, idx, index_columns, rule_def.shown_columns))
    if rows == 0:
        merged[len(rules)] = _no_rows_failure()
    failures = [merged[k] for k in sorted(merged)]
    return ValidationReport(suite=suite_name, rows_checked=rows, failures=failures)


def _validate_frames_in_duckdb(suite_name: str, chunks: Iterable[pd.DataFrame], rules: list[Rule]) -> ValidationReport:
    import duckdb

    merged: dict[int, ExpectationFailure] = {}
    rows = 0
    with duckdb.connect() as conn:
        for chunk in chunks:
            rows += len(chunk)
            if chunk.empty:
                continue
            conn.register("_checked_frame", chunk.assign(_frame_position=range(len(chunk))))
            _, found = _table_failures(conn, "SELECT * FROM _checked_frame", {}, rules, "_frame_position")
            conn.unregister("_checked_frame")
            for i, failure in found.items():
                kept = merged.setdefault(i, ExpectationFailure(failure.expectation, failure.column, failure.problem))
                kept.unexpected_count += failure.unexpected_count
                kept.examples += failure.examples[:max(EXAMPLE_ROWS - len(kept.examples), 0)]
    if rows == 0:
        merged[len(rules)] = _no_rows_failure()
    return ValidationReport(suite=suite_name, rows_checked=rows, failures=[merged[k] for k in sorted(merged)])


def _example(row: dict, shown: tuple[str, ...]) -> dict:
    """A failing row in the planner's words: the file's name, its row number, the shown columns."""
    out: dict = {}
    if "source_file" in row:
        out["file"] = os.path.basename(str(row["source_file"]))
    if "source_row" in row:
        out["row"] = int(row["source_row"])
    for col in shown:
        value = row.get(col)
        if value is None or pd.isna(value):
            value = None
        elif isinstance(value, datetime):
            value = value.date().isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        elif hasattr(value, "item"):  # NumPy scalar: show 3.0, not np.float64(3.0)
            value = value.item()
        out[col] = value
    return out


def _example_row(chunk: pd.DataFrame, idx, index_columns: list[str], shown: tuple[str, ...]) -> dict:
    # GX returns either a dict of the index columns or a positional index.
    if isinstance(idx, dict):
        mask = pd.Series(True, index=chunk.index)
        for col in index_columns:
            mask &= chunk[col] == idx[col]
        row = chunk[mask].iloc[0]
    else:
        row = chunk.loc[idx]
    return _example(row.to_dict(), shown)
