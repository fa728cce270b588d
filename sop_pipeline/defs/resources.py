"""Resources shared by every stage: the settings file, the plan database, the draft tables (the I/O
manager every asset reads its inputs from and writes its frames to) and the forecast worker pool."""


from contextlib import contextmanager
from datetime import date
from typing import Any

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from sop_pipeline.config.loading import CONFIG_ENV, DATABASE_ENV, load_settings
from sop_pipeline.config.schema import Settings
from sop_pipeline.defs.metadata import table_metadata
from sop_pipeline.store import db
from sop_pipeline.store.lock import run_lock
from sop_pipeline.store.opening import check_plan_database


class SopSettings(dg.ConfigurableResource):
    """The planning settings (`sop.yaml`), read and validated once per run: every stage of a run
    plans with the same settings, even if the file is edited while the run is going."""

    config_path: str
    _settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = load_settings(self.config_path)

    def load(self) -> Settings:
        return self._settings if self._settings is not None else load_settings(self.config_path)


class PlanDatabase(dg.ConfigurableResource):
    """The DuckDB file holding raw, draft and published (`sop.*`) tables.

    Connections come from `store.db.connect` (the file attached as catalog `plan`, a short wait while
    another process holds DuckDB's file lock, the schema ensured), not from dagster-duckdb's
    DuckDBResource, whose connection cannot attach the file under another catalog name.

    A run holds the database's run lock while this resource lives, i.e. from before its first step to
    after its last (resources live for the whole run with the in-process executor): runs from the CLI,
    the UI and the schedule never interleave on one database. `sop-pipeline run` already holds it.

    Within a run, `connect` gives a cursor on one connection the run opens at its first use and closes
    at its end: attaching the file, checking the schema and checkpointing on close cost 30-200 ms a
    connection, and a demo cycle connected 76 times. A cursor has its own transaction, so a step that
    fails rolls back its own writes only. Other processes wait for the run as they wait for its lock.
    """

    database: str

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        def say_waiting(holder):
            if context.log:
                context.log.info(f"Waiting for {holder.describe() if holder else 'another run'} to finish with "
                                 f"the plan database {self.database}")

        # Runs started from the UI or the schedule meet a damaged or foreign file here, before any step
        # (`sop-pipeline run` checked it already; a second look costs a few milliseconds).
        check_plan_database(self.database)
        with run_lock(self.database, run_id=context.run_id or "", on_wait=say_waiting):
            _RUN_CONNECTIONS[self.database] = None  # opened at the first `connect`
            try:
                yield self
            finally:
                conn = _RUN_CONNECTIONS.pop(self.database, None)
                if conn is not None:
                    conn.close()

    @contextmanager
    def connect(self):
        if self.database not in _RUN_CONNECTIONS:  # materialized outside a run (tests): a connection of its own
            conn = db.connect(self.database)
            try:
                db.ensure_schema(conn)
                yield conn
            finally:
                conn.close()
            return
        if _RUN_CONNECTIONS[self.database] is None:
            conn = db.connect(self.database)
            db.ensure_schema(conn)
            _RUN_CONNECTIONS[self.database] = conn
        cursor = db.use_plan(_RUN_CONNECTIONS[self.database].cursor())
        try:
            yield cursor
        finally:
            cursor.close()


# The run's connection per database file, for every copy of the resource Dagster hands out (the I/O
# manager's is not the assets'); DuckDB attaches a file once per process.
_RUN_CONNECTIONS: dict[str, Any] = {}


def table_of(key: dg.AssetKey) -> str:
    """The table an asset `sop/<table>` is stored in (`draft.<table>`, published as `sop.<table>`)."""
    return key.path[-1]


class DraftTables(dg.ConfigurableIOManager):
    """The I/O manager of every stage: an asset `sop/<table>` returns its frame for the run's plan cycle
    and this writes it to `draft.<table>` (replacing the cycle's rows); an asset that takes `sop/<table>`
    as an input gets the cycle's rows of `draft.<table>`. `sop/plan_runs` then publishes every draft table
    of the cycle to `sop.*` in one transaction (docs/architecture.md, "The publish protocol")."""

    database: dg.ResourceDependency[PlanDatabase]

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:  # an asset that writes no frame of its own (raw.sales_history, plan_runs, the report)
            return
        table = table_of(context.asset_key)
        with self.database.connect() as conn:
            db.replace_cycle(conn, table, cycle_of(context), obj)
        context.add_output_metadata(table_metadata(obj, f"draft.{table}", published_as=f"sop.{table}"))

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        with self.database.connect() as conn:
            return db.read_cycle(conn, table_of(context.asset_key), date.fromisoformat(context.asset_partition_key))


class ForecastWorkers(dg.ConfigurableResource):
    """The forecast's local worker pool, for the life of a run: started when the run starts (so the workers'
    start-up, Python, Prophet and the Stan model, overlaps ingest and its checks instead of adding to the
    forecast), shut down when the run ends, also when it fails before its forecast. The forecast releases
    it as soon as its fits are done; a cycle with one worker or a Dask cluster starts none. This process's own
    share (Prophet for its fits, hierarchicalforecast for the reconciliation) loads meanwhile too (`preload`)."""

    sop_settings: dg.ResourceDependency[SopSettings]

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        from sop_pipeline.forecasting.executor import preload, prewarm, release_pool

        forecast = self.sop_settings.load().forecast
        preload("sop_pipeline.forecasting.pipeline")  # the forecast step's entry point, imported lazily there
        if forecast.executor == "local" and forecast.resolved_workers() > 1:
            prewarm(forecast.resolved_workers())
        try:
            yield self
        finally:
            release_pool()


def plan_resources(config_path, database_path) -> dict:
    """Every resource of a run, for `Definitions` (environment variables, read per run) and for tests
    that materialize a few assets (paths)."""
    settings = SopSettings(config_path=config_path)
    database = PlanDatabase(database=database_path)
    return {
        "sop_settings": settings,
        "database": database,
        "io_manager": DraftTables(database=database),
        "forecast_workers": ForecastWorkers(sop_settings=settings),
    }


def default_resources() -> dict:
    """Resources for `Definitions`: paths from SOP_CONFIG / SOP_DB (`dg.EnvVar`, resolved when a run starts)."""
    return plan_resources(dg.EnvVar(CONFIG_ENV), dg.EnvVar(DATABASE_ENV))


def cycle_of(context) -> date:
    """The plan cycle (first day of the month) of a partitioned run."""
    return date.fromisoformat(context.partition_key)
