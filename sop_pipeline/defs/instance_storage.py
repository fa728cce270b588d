"""The Dagster instance's storage for `sop-pipeline run` and `ui`: Dagster's own SQLite storage, in its own
layout under $DAGSTER_HOME (history/, schedules/), with an event log that keeps one SQLite engine per database file.

Dagster's `SqliteEventLogStorage` builds a SQLAlchemy engine, connects and disposes of it for every event it
stores: 2-9 ms an event on this project's machines, about 300 events a demo cycle (every step's start, inputs,
outputs, materializations, check results and log lines). Kept engines store one in about 0.6 ms
(`benchmarks/dagster_events_bench.py`). Each event is still its own committed transaction, so the UI, which
watches the database files, sees a run live as before. `dagster.yaml` names this class; a Dagster home whose
`dagster.yaml` predates it keeps Dagster's default storage, and both read the same files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._config import StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool


class KeptEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's per-run SQLite event log, each shard's engine (one connection) kept for the process."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: dict[str, Engine] = {}
        self._pid = os.getpid()
        super().__init__(base_dir, inst_data=inst_data)  # its set-up already connects

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            if os.getpid() != self._pid:  # a forked child: never reuse its parent's SQLite connections
                self._engines, self._pid = {}, os.getpid()
            engine = self._engines.get(shard)
            if engine is None:
                # One connection, used under the storage's lock: any thread may hold it in turn.
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                     "check_same_thread": False})
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
                self._engines[shard] = engine
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().dispose()


class SopSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, event log, schedules) in their default places under
    `dagster_home`, the event log with kept engines."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = KeptEngineSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def config_type(cls):
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        # Dagster's own default layout, so the history of runs stored before this class existed stays readable.
        return cls.from_local(config_value["dagster_home"], inst_data=inst_data)


@contextmanager
def open_instance(home: str | os.PathLike) -> Iterator:
    """The Dagster instance of a Dagster home that `sop-pipeline` set up, for reading runs and lineage from
    Python. Its `dagster.yaml` finds the storage through $DAGSTER_HOME (the storage config is read before
    the instance knows its folder), which `DagsterInstance.from_config(home)` alone does not set."""
    import dagster as dg

    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = os.fspath(home)
    try:
        with dg.DagsterInstance.from_config(os.fspath(home)) as instance:
            yield instance
    finally:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before
