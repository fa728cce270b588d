"""The bad-input corpus (tests/bad_inputs/): every malformed file fails with one clear paragraph.

Each file of the corpus is listed in tests/bad_inputs/expected.yaml with its kind and the substrings
its message must hold (what went wrong, where, and what to do). Files for the monthly run are run
through `sop-pipeline run` against a copy of a published database, which must be left unchanged;
planning-problem files through `sop-pipeline plan --problem`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.support.files import PROJECT_ROOT, SMALL_CYCLE, snapshot, write_settings

CORPUS = PROJECT_ROOT / "tests" / "bad_inputs"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
RUN_KINDS = ("sales", "settings", "new_products", "adjustments", "budget")


def _cases(kinds) -> list:
    return [pytest.param(name, marks=[pytest.mark.slow] if spec.get("slow") else [], id=name)
            for name, spec in sorted(EXPECTED.items()) if spec["kind"] in kinds]


def _message(stderr: str) -> str:
    """The error paragraph: from the last 'Error:' / 'error:' to the end of stderr."""
    start = stderr.rfind("Error:")
    assert start >= 0, stderr[-2000:]
    return stderr[start:]


def _assert_expected(message: str, spec: dict) -> None:
    assert "Traceback" not in message
    for text in spec["expect"]:
        assert text in message, f"{text!r} not in: {message}"


def test_every_corpus_file_is_listed_and_every_listed_file_exists():
    files = {p.name for p in CORPUS.iterdir() if p.name != "expected.yaml"}
    assert files == set(EXPECTED)
    assert len(files) >= 30
    assert {spec["kind"] for spec in EXPECTED.values()} == {*RUN_KINDS, "problem"}


def _settings_for(name: str, spec: dict, folder: Path, small_sales: Path) -> Path:
    path = CORPUS / name
    if spec["kind"] == "sales":
        return write_settings(folder, path)
    if spec["kind"] == "settings":
        shutil.copyfile(small_sales, folder / "sales.csv")
        target = folder / "sop.yaml"
        shutil.copyfile(path, target)
        return target
    return write_settings(folder, small_sales, **{spec["kind"]: str(path)})


def _assert_error_paragraph_last(stderr: str) -> None:
    """The run ends with the error paragraph: a line starting with "Error:", and after it only the
    indented continuation lines of the same paragraph (a list of problems, the where and the fix)."""
    lines = [line for line in stderr.rstrip().splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    assert starts, stderr[-3000:]
    assert all(line.startswith(" ") for line in lines[starts[-1] + 1:]), stderr[-3000:]


@pytest.mark.parametrize("name", _cases(RUN_KINDS))
def test_bad_run_input_fails_cleanly_and_keeps_the_published_plan(name, run_cli, published_copy, small_sales,
                                                                  tmp_path):
    spec = EXPECTED[name]
    folder = tmp_path / "inputs"
    folder.mkdir()
    settings = _settings_for(name, spec, folder, small_sales)
    before = snapshot(published_copy)
    result = run_cli("run", "--config", settings, "--db", published_copy, "--cycle", SMALL_CYCLE)
    assert result.code == spec.get("code", 2), result.err[-3000:]
    _assert_error_paragraph_last(result.err)
    _assert_expected(_message(result.err), spec)
    assert snapshot(published_copy) == before


@pytest.mark.parametrize("name", _cases(("problem",)))
def test_bad_problem_file_fails_cleanly(name, capsys):
    from sop_pipeline.cli import main

    spec = EXPECTED[name]
    capsys.readouterr()
    try:
        code = main(["plan", "--problem", str(CORPUS / name), *spec.get("args", [])])
    except SystemExit as exc:  # argparse refuses a bad option itself, with its own message
        code = exc.code
    stderr = capsys.readouterr().err
    assert code == spec.get("code", 2), stderr
    _assert_expected(_message(stderr), spec)


# --- Formula-like text (CSV injection) stays plain text wherever the project reads or writes it ---

def test_formula_like_cells_load_as_plain_text(tmp_path):
    from sop_pipeline.demand.adjustments import load_adjustments
    from sop_pipeline.demand.new_products import load_new_products

    # The corpus file's first row is good (its second row is the bad one the corpus test reports).
    lines = (CORPUS / "adjustments_injection.csv").read_text(encoding="utf-8").splitlines()
    good = tmp_path / "adjustments.csv"
    good.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    row = load_adjustments(good).row(0, named=True)
    assert (row["sku"], row["reason"], row["author"], row["units"]) == \
        ('=HYPERLINK("http://evil.example")', "=1+1", "@cmd", 100.0)

    lines = (CORPUS / "new_products_duplicate_injection.csv").read_text(encoding="utf-8").splitlines()
    good = tmp_path / "new_products.csv"
    good.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    assert load_new_products(good)["product"].to_list() == ['=HYPERLINK("http://evil.example","x")']


def test_formula_like_sales_cells_load_as_plain_text(tmp_path):
    import duckdb

    from sop_pipeline.config.loading import parse_settings
    from sop_pipeline.ingest.load import load_sales
    from sop_pipeline.store.db import sql_text
    from tests.support.files import SMALL_CYCLE as cycle_text

    settings = parse_settings({"sales": {"path": str(CORPUS / "sales_csv_injection.csv")}})
    conn = duckdb.connect()
    conn.execute(sql_text("create_raw"))
    cycle = pl.Series([cycle_text + "-01"]).str.to_date()[0]
    load_sales(conn, settings, cycle)
    rows = conn.execute("SELECT sku, family FROM raw.sales_history ORDER BY source_row").fetchall()
    assert rows[2] == ('=HYPERLINK("http://evil.example","x")', "@SUM(1+1)")
    assert rows[3] == ("+cmd", "-Cookware")


def test_report_tables_escape_names_as_text():
    """Names reach the executive report's HTML escaped: markup shows as text, never runs."""
    from sop_pipeline.report.html import _table

    frame = pl.DataFrame({"family": ['<img src=x onerror="alert(1)">', '=HYPERLINK("http://evil.example")'],
                          "units": [1.0, 2.0]})
    page = _table(frame)
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "=HYPERLINK(&quot;http://evil.example&quot;)" in page
