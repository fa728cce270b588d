"""Shared fixtures: small generated sales, settings files, CLI runs in a temporary Dagster home."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sop_pipeline.config.loading import DEMO_SETTINGS
from sop_pipeline.store import db

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in

# ../shared/data beside the checkout; SOP_SHARED_DATA points elsewhere (e.g. from a git worktree).
SHARED_DATA = Path(os.environ.get("SOP_SHARED_DATA") or PROJECT_ROOT.parent / "shared" / "data")
SMALL_CYCLE = "2026-11"


def _required(what: str) -> bool:
    """CI sets SOP_REQUIRE_SHARED_DATA=1 (in .ci/run): there a missing data set or browser is a failure,
    so a green CI cannot hide tests that skipped."""
    return os.environ.get("SOP_REQUIRE_SHARED_DATA") == "1"


def shared_file(name: str) -> Path:
    """A file of ../shared/data; where the folder is absent, a clean skip (a failure under CI)."""
    path = SHARED_DATA / name
    if not path.exists():
        if _required("data"):
            pytest.fail(f"{path} is not available and SOP_REQUIRE_SHARED_DATA=1: run beside ../shared/data")
        pytest.skip(f"{path} is not available")
    return path


def require_chromium() -> str:
    """The headless Chromium the browser tests use; a skip where it is absent (a failure under CI)."""
    found = shutil.which("chromium")
    if found is None:
        if _required("chromium"):
            pytest.fail("chromium is not installed and SOP_REQUIRE_SHARED_DATA=1: .ci/run installs it")
        pytest.skip("chromium is not installed")
    return found


def write_settings(folder: Path, sales_path: Path | str, **sections) -> Path:
    """A settings file like the demo's, pointing at `sales_path`, with sections overridden."""
    demo = yaml.safe_load(DEMO_SETTINGS.read_text())
    demo["sales"]["path"] = str(sales_path)
    demo["forecast"].update({"horizon_months": 6, "backtest_months": 3, "workers": 1})
    demo["new_products"] = None
    demo["adjustments"] = None
    demo["budget"] = None
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(demo.get(key), dict):
            demo[key].update(value)
        else:
            demo[key] = value
    path = folder / "sop.yaml"
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    return path


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


def snapshot(db_path: Path) -> dict[str, list]:
    """Every row of every published table, sorted, for before/after comparisons."""
    conn = db.connect(db_path, read_only=True)
    try:
        return {t: conn.execute(f"SELECT * FROM sop.{t} ORDER BY ALL").fetchall() for t in db.PLAN_TABLES}
    finally:
        conn.close()


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
