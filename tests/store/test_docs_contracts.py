"""docs/contracts.md lists every published table with the columns the pipeline's schema really has."""

from __future__ import annotations

import re

from sop_pipeline.store import db
from tests.support.files import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "docs" / "contracts.md"


def _documented_columns() -> dict[str, list[str]]:
    """`- `sop.<table>`: `a`, `b`, ...` lines of the Columns section."""
    section = CONTRACTS.read_text(encoding="utf-8").split("### Columns", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        if match := re.match(r"- `sop\.(\w+)`: (.*)$", line):
            found[match.group(1)] = re.findall(r"`(\w+)`", match.group(2))
    return found


def _schema_columns(tmp_path) -> dict[str, list[str]]:
    conn = db.connect(tmp_path / "plan.duckdb")
    try:
        db.ensure_schema(conn)
        rows = conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
            "WHERE c.table_schema = 'sop' AND c.table_catalog = current_database() AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position").fetchall()
    finally:
        conn.close()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def test_every_published_table_is_documented_with_its_columns(tmp_path):
    documented, schema = _documented_columns(), _schema_columns(tmp_path)
    assert set(db.PLAN_TABLES) <= set(schema), "a published table is not created by sql/create_tables.sql"
    assert sorted(documented) == sorted(schema), "docs/contracts.md lists other tables than the schema has"
    for table, columns in schema.items():
        assert documented[table] == columns, f"sop.{table}: docs/contracts.md says {documented[table]}, the schema has {columns}"


def test_an_old_database_upgrades_to_the_documented_columns(tmp_path):
    """A database whose forecast table predates the `model` column gains it in place (ALTER ... IF NOT EXISTS)."""
    conn = db.connect(tmp_path / "old.duckdb")
    try:
        conn.execute("CREATE SCHEMA sop")
        conn.execute("CREATE TABLE sop.forecast (plan_cycle DATE NOT NULL, level VARCHAR NOT NULL, series_key VARCHAR "
                     "NOT NULL, family VARCHAR, sku VARCHAR, month DATE NOT NULL, method VARCHAR NOT NULL, yhat DOUBLE "
                     "NOT NULL, yhat_lower DOUBLE NOT NULL, yhat_upper DOUBLE NOT NULL)")
        db.ensure_schema(conn)
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'sop' AND table_name = 'forecast' "
            "AND table_catalog = current_database() ORDER BY ordinal_position").fetchall()]
    finally:
        conn.close()
    assert columns == _documented_columns()["forecast"]


def test_the_frames_the_stages_build_have_their_tables_columns(tmp_path):
    """The column lists in Python (a frame's schema before it is written) name exactly the columns of the
    table in sql/create_tables.sql, which is the one definition: a column added to one must be added to both."""
    from sop_pipeline.alignment.capacity import CAPACITY_COLUMNS
    from sop_pipeline.alignment.exceptions import EXCEPTION_COLUMNS, PUBLICATION_COLUMNS
    from sop_pipeline.forecasting.publish import ACCURACY_SCHEMA, FORECAST_SCHEMA, PARAMS_SCHEMA
    from sop_pipeline.scenarios.compare import COMPARISON_COLUMNS as SCENARIO_COMPARISON_COLUMNS
    from sop_pipeline.scenarios.plan import SCENARIO_PLAN_COLUMNS
    from sop_pipeline.supply.operating_plan import OPERATING_COLUMNS
    from sop_pipeline.supply.sku_split import INVENTORY_COLUMNS
    from sop_pipeline.supply.tables import COMPARISON_COLUMNS, PRODUCTION_COLUMNS

    python_columns = {
        "forecast": FORECAST_SCHEMA, "forecast_accuracy": ACCURACY_SCHEMA, "forecast_model_params": PARAMS_SCHEMA,
        "capacity_plan": CAPACITY_COLUMNS, "exceptions": EXCEPTION_COLUMNS + PUBLICATION_COLUMNS,
        "scenario_plan": SCENARIO_PLAN_COLUMNS, "scenario_comparison": SCENARIO_COMPARISON_COLUMNS,
        "production_plan": PRODUCTION_COLUMNS, "strategy_comparison": COMPARISON_COLUMNS,
        "inventory_plan": INVENTORY_COLUMNS, "operating_plan": OPERATING_COLUMNS,
    }
    schema = _schema_columns(tmp_path)
    for table, columns in python_columns.items():
        assert sorted(columns) == sorted(c for c in schema[table] if c != "plan_cycle"), table
