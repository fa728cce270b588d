"""Resources shared by every stage: the settings file and the plan database."""


from contextlib import contextmanager
from datetime import date

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from sop_pipeline.config.loading import load_settings
from sop_pipeline.config.schema import Settings
from sop_pipeline.store import db
from sop_pipeline.store.lock import run_lock


class SopSettings(dg.ConfigurableResource):
    """The planning settings (`sop.yaml`), read and validated once per run: every stage of a run
    plans with the same settings, even if the file is edited while the run is going."""

    config_path: str
    _settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = load_settings(self.config_path)

    def load(self) -> Settings:
        return self._settings if self._settings is not None else load_settings(self.config_path)


class PlanDatabase(DuckDBResource):
    """The DuckDB file holding raw, draft and published (`sop.*`) tables.

    A run holds the database's run lock while this resource lives, i.e. from before its first step to
    after its last (resources live for the whole run with the in-process executor): runs from the CLI,
    the UI and the schedule never interleave on one database. `sop-pipeline run` already holds it.
    """

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        def say_waiting(holder):
            if context.log:
                context.log.info(f"Waiting for {holder.describe() if holder else 'another run'} to finish with "
                                 f"the plan database {self.database}")

        with run_lock(self.database, run_id=context.run_id or "", on_wait=say_waiting):
            with super().yield_for_execution(context) as resource:
                yield resource

    @contextmanager
    def connect(self):
        conn = db.connect(self.database)
        try:
            db.ensure_schema(conn)
            yield conn
        finally:
            conn.close()


# The environment variables a run reads its settings file and database from. `sop-pipeline run` and
# `sop-pipeline ui` set both (defaults: the demo settings and DEFAULT_DB); `dagster dev` in the project
# folder reads them from its `.env`. They are resolved when a run starts, not when this module loads.
CONFIG_ENV = "SOP_CONFIG"
DATABASE_ENV = "SOP_DB"


def default_resources() -> dict:
    """Resources for `Definitions`: paths from SOP_CONFIG / SOP_DB (`dg.EnvVar`, read per run)."""
    return {
        "sop_settings": SopSettings(config_path=dg.EnvVar(CONFIG_ENV)),
        "database": PlanDatabase(database=dg.EnvVar(DATABASE_ENV)),
    }


def cycle_of(context) -> date:
    """The plan cycle (first day of the month) of a partitioned run."""
    return date.fromisoformat(context.partition_key)
