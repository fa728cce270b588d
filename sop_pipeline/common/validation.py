"""The data-quality engine: Great Expectations 1.x suites defined in code, run on an ephemeral context.

The suites themselves live with their stage (`ingest.validation`, `forecasting.validation`).

A large table (the raw sales) is validated in chunks of Arrow record batches so memory stays bounded however
large the history is; results of the chunks are merged (counts added, first examples kept). Every
failure carries example rows with their source file and row number, so a planner can find them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

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
class Rule:
    """An expectation plus the planner's description of what its failure means."""

    expectation: gx.expectations.Expectation
    column: str | None
    problem: str
    shown_columns: tuple[str, ...] = ()


def _new_context():
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate_frames(
    suite_name: str,
    chunks: Iterable[pd.DataFrame],
    rules: list[Rule],
    source_label: str | None = None,
) -> ValidationReport:
    """Run the rules as one GX suite over each chunk and merge the results."""
    context = _new_context()
    data_source = context.data_sources.add_pandas(name=f"{suite_name}_source")
    asset = data_source.add_dataframe_asset(name=suite_name)
    batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    # GX does not promise results in the order expectations were added: match them by id.
    rule_by_id = {suite.add_expectation(rule.expectation).id: (i, rule) for i, rule in enumerate(rules)}

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
        merged[-1] = ExpectationFailure("expect_table_row_count_to_be_between", None,
                                        "no sales rows at all (the file is empty or has only a header)")
    failures = [merged[k] for k in sorted(merged)]
    return ValidationReport(suite=suite_name, rows_checked=rows, failures=failures)


def _example_row(chunk: pd.DataFrame, idx, index_columns: list[str], shown: tuple[str, ...]) -> dict:
    # GX returns either a dict of the index columns or a positional index.
    if isinstance(idx, dict):
        mask = pd.Series(True, index=chunk.index)
        for col in index_columns:
            mask &= chunk[col] == idx[col]
        row = chunk[mask].iloc[0]
    else:
        row = chunk.loc[idx]
    out: dict = {}
    if "source_file" in row:
        out["file"] = os.path.basename(str(row["source_file"]))
    if "source_row" in row:
        out["row"] = int(row["source_row"])
    for col in shown:
        value = row.get(col)
        if pd.isna(value):
            value = None
        elif isinstance(value, pd.Timestamp):
            value = value.date().isoformat()
        elif hasattr(value, "item"):  # NumPy scalar: show 3.0, not np.float64(3.0)
            value = value.item()
        out[col] = value
    return out
