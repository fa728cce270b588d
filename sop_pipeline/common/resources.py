"""Files that ship inside the package: the SQL statements, the demo inputs, the Dagster instance settings.

They live at the top of the repository (`sql/`, `assets/`, `dagster.yaml`) and are linked into
`sop_pipeline/_bundled/`, so an editable install reads them in place and a wheel carries copies
(package data). Everything is found through `importlib.resources`, never relative to a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled(*parts: str) -> Path:
    """A shipped file or folder, e.g. `bundled("sql", "create_tables.sql")`."""
    return Path(str(files("sop_pipeline").joinpath("_bundled", *parts)))


SQL_DIR = bundled("sql")
DEMO_DIR = bundled("assets", "demo")
EXAMPLES_DIR = bundled("assets", "examples")
DEMO_SETTINGS = DEMO_DIR / "sop.yaml"
DEFAULT_DB = Path("data") / "sop_plan.duckdb"  # the database `run`, `ui` and `what-if` use without --db
# The environment variables a Dagster run reads its settings file and database from. `sop-pipeline run`
# and `sop-pipeline ui` set both (defaults: the demo settings and DEFAULT_DB); `dagster dev` in the
# project folder reads them from its `.env`. They are resolved when a run starts (defs/resources.py).
CONFIG_ENV = "SOP_CONFIG"
DATABASE_ENV = "SOP_DB"
DAGSTER_INSTANCE_YAML = bundled("dagster.yaml")


def sql_text(name: str) -> str:
    """The statement in `sql/<name>.sql`."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
