"""The shared fixtures: CLI runs in a temporary Dagster home, small generated sales, a published run of
them, a plan database with the schema. Plain helpers (paths, settings files, planning cases, frames)
are in tests/support/."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from sop_pipeline.store import db
from tests.support.files import SMALL_CYCLE, write_settings


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def run_cli(capsys, tmp_path, monkeypatch):
    """Run `sop-pipeline ...` in this process (a fresh DAGSTER_HOME unless one is set)."""
    from sop_pipeline.cli import main

    if "DAGSTER_HOME" not in os.environ:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))

    def _run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


@pytest.fixture(scope="session")
def small_sales(tmp_path_factory) -> Path:
    """A small generated daily history: 12 SKUs, 3 years ending 2026-10-31."""
    from sop_pipeline.demo import generate_sales, write_sales_csv

    folder = tmp_path_factory.mktemp("small_sales")
    return write_sales_csv(generate_sales(n_skus=12, n_days=3 * 365, seed=7), folder / "sales.csv")


@pytest.fixture(scope="session")
def published_small(tmp_path_factory, small_sales):
    """One successful published run of the small history; tests copy its database."""
    from sop_pipeline.cli import main

    folder = tmp_path_factory.mktemp("published")
    settings = write_settings(folder, small_sales)
    db_path = folder / "sop.duckdb"
    old_home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(folder / "dagster_home")
    try:
        code = main(["run", "--config", str(settings), "--db", str(db_path), "--cycle", SMALL_CYCLE])
    finally:
        if old_home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old_home
    assert code == 0, "the small reference run failed"
    return db_path


@pytest.fixture
def published_copy(published_small, tmp_path) -> Path:
    """A private copy of the published database, to run bad input against."""
    target = tmp_path / "sop.duckdb"
    shutil.copyfile(published_small, target)
    shutil.copyfile(db.snapshot_path(published_small), db.snapshot_path(target))
    return target


@pytest.fixture
def conn(tmp_path):
    """A connection to a new plan database with every table and view (closed after the test)."""
    connection = db.connect(tmp_path / "sop.duckdb")
    db.ensure_schema(connection)
    yield connection
    connection.close()
