"""DuckDB access: the SQL files, schema set-up, idempotent cycle writes and atomic publication.

Stages write their rows for a cycle into `draft.<table>`; `versions.publish` then publishes them as a new
version of the cycle (`sop_versions.*`) and, unless an approved version stays, replaces that cycle's rows
in every `sop.<table>`, inside one transaction. A run that fails or is killed part-way
therefore never leaves a half-written cycle in `sop.*`: readers see the previous complete plan.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from sop_pipeline.common import resources
from sop_pipeline.common.sql_quoting import quote_ident  # noqa: F401  (re-exported: readers call db.quote_ident)

# Tables published per cycle, in the order versions.publish copies them.
PLAN_TABLES = (
    "demand_history",
    "forecast",
    "forecast_accuracy",
    "forecast_model_params",
    "new_product_plan",
    "demand_plan",
    "production_plan",
    "strategy_comparison",
    "inventory_plan",
    "operating_plan",
    "scenario_plan",
    "scenario_comparison",
    "capacity_plan",
    "budget_gap",
    "exceptions",
    "plan_runs",
)


@cache
def sql_text(name: str) -> str:
    """The text of `sql/<name>.sql` (read once per process)."""
    return resources.sql_text(name)


CATALOG = "plan"


def connect(path: str | Path, read_only: bool = False, retries: int = 20, wait_s: float = 0.5):
    """Open the plan database; wait briefly while another process holds its lock.

    The file is attached under the catalog name `plan` and made the default, because DuckDB names a
    file's catalog after the file: in a file named `sop.duckdb` (any `--db` name is accepted),
    `sop.forecast` would be ambiguous
    between the catalog `sop` and the schema `sop`.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        conn = duckdb.connect()
        try:
            attach(conn, path, CATALOG, read_only=read_only)
            return use_plan(conn)
        except duckdb.IOException as exc:
            conn.close()
            if "lock" not in str(exc).lower() or attempt == retries:
                raise
            time.sleep(wait_s)
    raise AssertionError("unreachable")


def use_plan(conn):
    """`conn` with the plan database as its default catalog (a cursor starts at DuckDB's `memory`)."""
    conn.execute(statement("use_database", alias=CATALOG))
    return conn


def statement(name: str, **identifiers: str) -> str:
    """`sql/<name>.sql` with its `{placeholders}` filled: identifiers the pipeline chooses (table
    names), never user values, which are passed as parameters ($c)."""
    return sql_text(name).format(**identifiers)


def quote_literal(text: str) -> str:
    """A SQL string literal (for ATTACH, which takes no parameters)."""
    return "'" + str(text).replace("'", "''") + "'"


def attach(conn, path: str | Path, alias: str, read_only: bool = False) -> None:
    conn.execute(statement("attach_database", path=quote_literal(path), alias=alias,
                           options="(READ_ONLY)" if read_only else ""))


# Views over the published tables (sql/view_<name>.sql), for the S&OP meeting and for analysts.
VIEWS = ("plan_over_plan", "forecast_accuracy_over_time",
         # the track record (in this order: each reads the one before)
         "demand_waterfall", "forecast_value_added_by_cycle", "forecast_value_added", "kpi_history")


_SCHEMA_READY: set[str] = set()  # database files whose DDL this process has run
_DDL_FILES = ("create_raw", "create_tables", "create_decisions") + tuple(f"view_{view}" for view in VIEWS)


@cache
def _schema_objects() -> frozenset[tuple[str, str]]:
    """(schema, name) of every table and view the DDL files create."""
    pattern = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                         r"(\{schema\}|\w+)\.(\w+)", re.IGNORECASE)
    objects = set()
    for name in _DDL_FILES:
        for schema, table in pattern.findall(sql_text(name)):
            objects |= {(s, table) for s in (("draft", "sop", "sop_versions") if schema == "{schema}" else (schema,))}
    return frozenset(objects)


def ensure_schema(conn) -> None:
    """Create the raw, draft and sop tables if they do not exist yet, and (re)create the sop views.

    The statements run once per process and database file, and again only if a table or view is
    missing: every stage opens its own connection, and two catalogue queries cost far less."""
    path = conn.execute(sql_text("current_database_path")).fetchall()[0][0]
    if path in _SCHEMA_READY:
        present = set(conn.execute(sql_text("tables_present")).fetchall())
        if _schema_objects() <= present:
            return
    conn.execute(sql_text("create_raw"))
    for schema in ("draft", "sop"):
        conn.execute(sql_text("create_tables").format(schema=schema))
    _create_versions(conn)  # sop_versions.* and sop.decisions; cycles of an older release become version 1
    for view in VIEWS:
        conn.execute(sql_text(f"view_{view}"))
    _SCHEMA_READY.add(path)


VERSIONS = "sop_versions"  # every version of every cycle (store/versions.py)


def _create_versions(conn) -> None:
    """The sop_versions tables (the shape of sop.*, plus version) and sop.decisions; cycles published before
    versions existed are backfilled as their version 1 (an old database upgrades in place, keeping every cycle)."""
    conn.execute(sql_text("create_tables").format(schema=VERSIONS))
    for table in PLAN_TABLES:
        conn.execute(statement("versions_add_column", table=table))
    conn.execute(sql_text("create_decisions"))
    with transaction(conn):
        for table in PLAN_TABLES:
            if table != "plan_runs":
                conn.execute(statement("versions_backfill", table=table))
        run_script(conn, "versions_backfill_runs")
        for schema in ("sop", VERSIONS):
            conn.execute(statement("exceptions_set_keys", table=f"{schema}.exceptions"))


def run_script(conn, name: str, params: dict | None = None, **identifiers: str) -> None:
    """Run `sql/<name>.sql`, a script of statements each ending with `;` at the end of a line, one by one
    (DuckDB binds parameters to one statement at a time); each is given the parameters it names."""
    for text in re.split(r";\s*\n", statement(name, **identifiers)):
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()
        if body:
            used = {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", body)}
            conn.execute(body, used)


@contextmanager
def transaction(conn) -> Iterator:
    conn.begin()
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def replace_cycle(conn, table: str, cycle: date, frame, schema: str = "draft") -> int:
    """Replace one cycle's rows of `schema.table` with `frame` (Polars, pandas or Arrow), atomically.

    Columns are matched by name, so a frame missing a nullable column leaves it NULL and a frame with
    an unknown column is an error rather than silently dropped.
    """
    target = f"{schema}.{table}"
    with transaction(conn):
        conn.execute(statement("cycle_delete", table=target), {"c": cycle})
        _insert(conn, target, cycle, frame)
    return len(frame)


def _insert(conn, target: str, cycle: date, frame) -> None:
    if len(frame):
        conn.register("_incoming", frame)
        try:
            conn.execute(statement("cycle_insert_frame", table=target), {"c": cycle})
        finally:
            conn.unregister("_incoming")


def publish_scenario(conn, cycle: date, scenario: str, plan, comparison) -> None:
    """Replace one scenario of a published cycle in `sop.scenario_plan` and `sop.scenario_comparison` (and
    in the version of them sop.* shows, in `sop_versions`) and list it in the cycle's `sop.plan_runs` row,
    in one transaction (`sop-pipeline what-if --save`)."""
    with transaction(conn):
        shown = conn.execute(sql_text("version_shown"), {"c": cycle}).fetchall()
        version = shown[0][0] if shown else None
        for table, frame in (("scenario_plan", plan), ("scenario_comparison", comparison)):
            conn.execute(statement("scenario_delete", table=table), {"c": cycle, "s": scenario})
            _insert(conn, f"sop.{table}", cycle, frame)
        names = conn.execute(sql_text("cycle_scenarios").format(schema="sop"), {"plan_cycle": cycle}).fetchall()[0][0]
        conn.execute(sql_text("plan_runs_set_scenarios"), {"n": names, "c": cycle})
        if version is not None:
            # The shown version's scenario tables and plan_runs row, copied back from sop.* as they are now.
            for table in ("scenario_plan", "scenario_comparison", "plan_runs"):
                conn.execute(statement("version_delete_cycle", table=f"sop_versions.{table}"), {"c": cycle, "v": version})
                columns = "* REPLACE ($v AS version)" if table == "plan_runs" else "*, $v AS version"
                conn.execute(statement("version_from_sop", table=table, columns=columns), {"c": cycle, "v": version})


def count_cycle(conn, table: str, cycle: date) -> int:
    """Rows of one cycle in `table` (schema.table)."""
    return conn.execute(statement("cycle_count", table=table), {"c": cycle}).fetchall()[0][0]


def query_pl(conn, statement: str, params: dict | None = None) -> pl.DataFrame:
    """A query's result as a Polars frame (through Arrow, no pandas in between)."""
    return pl.from_arrow(conn.sql(statement, params=params or {}).to_arrow_table())


# DuckDB column types a small result is read as, without Arrow (`query_rows_pl`).
_POLARS_TYPES = {"BOOLEAN": pl.Boolean, "DATE": pl.Date, "DOUBLE": pl.Float64, "VARCHAR": pl.String,
                 "BIGINT": pl.Int64, "INTEGER": pl.Int32, "TIMESTAMP": pl.Datetime("us")}


def query_rows_pl(conn, statement: str, params: dict | None = None) -> pl.DataFrame:
    """A small query's result as a Polars frame, through Python rows instead of Arrow: the same frame as
    `query_pl` for the column types in `_POLARS_TYPES` (others go through Arrow), without importing
    pyarrow (0.2 s, a tenth of a what-if). For a few thousand rows; large tables read with `query_pl`."""
    relation = conn.sql(statement, params=params or {})
    types = [str(t) for t in relation.types]
    if any(t not in _POLARS_TYPES for t in types):
        return pl.from_arrow(relation.to_arrow_table())
    schema = {name: _POLARS_TYPES[t] for name, t in zip(relation.columns, types)}
    return pl.DataFrame(relation.fetchall(), schema=schema, orient="row")


def read_cycle(conn, table: str, cycle: date, schema: str = "draft", small: bool = False) -> pl.DataFrame:
    """One cycle's rows of a table as a Polars frame (without the plan_cycle column); `small`: read
    through Python rows (`query_rows_pl`), for the few thousand rows a what-if reads.

    Sorted: DuckDB scans in parallel, and floating-point sums over rows in a different order differ in
    the last digit, which would make two runs on the same input publish different numbers."""
    read = query_rows_pl if small else query_pl
    return read(conn, statement("cycle_read", table=f"{schema}.{table}"), {"c": cycle})


def snapshot_path(db_path: str | Path) -> Path:
    """The read-only copy of the published plans beside the plan database (`sop_plan.duckdb` → `sop_plan_published.duckdb`)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}_published{db_path.suffix or '.duckdb'}")


def write_published_snapshot(conn, db_path: str | Path) -> Path:
    """Copy every published `sop.*` table (all cycles) and the views into a new file, then move it over
    the previous snapshot in one rename.

    Readers who query the snapshot never wait for a run and never block one, and always see complete
    plans: a reader that opened the old file keeps reading it; the next one opens the new file.
    """
    target = snapshot_path(db_path)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    attach(conn, staging, "snapshot")
    try:
        conn.execute(sql_text("snapshot_create_schema"))
        for table in (*PLAN_TABLES, "decisions"):  # the decision log too: what the meeting decided
            conn.execute(statement("snapshot_copy_table", table=table))
    finally:
        conn.execute(statement("detach_database", alias="snapshot"))
    # The views are created by connecting to the new file itself, so they name its own tables.
    view_conn = duckdb.connect(str(staging))
    try:
        for view in VIEWS:
            view_conn.execute(sql_text(f"view_{view}"))
    finally:
        view_conn.close()
    os.replace(staging, target)
    return target
