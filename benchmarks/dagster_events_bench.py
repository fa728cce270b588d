"""What storing one Dagster event costs: Dagster's default SQLite event log (an engine built, connected and
disposed of per event) against the project's (`sop_pipeline/defs/instance_storage.py`, one kept engine per
database file), alternating, in a temporary folder on the disk given (`--dir`, default the system's temp).

    python benchmarks/dagster_events_bench.py --events 300 --rounds 3

A demo cycle stores about 300 events (every step's start, inputs, outputs, materializations, checks, logs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from sop_pipeline.defs.instance_storage import KeptEngineSqliteEventLogStorage


def _event(run_id: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=20, user_message="step event", run_id=run_id, timestamp=time.time(),
                         dagster_event=DagsterEvent(event_type_value=DagsterEventType.ENGINE_EVENT.value,
                                                    job_name="bench", message="step event",
                                                    event_specific_data=EngineEventData()))


def ms_per_event(storage_class, folder: str, events: int) -> float:
    storage = storage_class(tempfile.mkdtemp(dir=folder))
    storage.store_event(_event("r"))  # the shard's schema, outside the timing
    started = time.perf_counter()
    for _ in range(events):
        storage.store_event(_event("r"))
    elapsed = time.perf_counter() - started
    storage.dispose()
    return 1000 * elapsed / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="folder (disk) for the SQLite files")
    args = parser.parse_args()
    folder = args.dir or tempfile.gettempdir()
    rows = {"Dagster default (engine per event)": [], "sop-pipeline (kept engine)": []}
    for _ in range(args.rounds):
        for (name, cls) in zip(rows, (SqliteEventLogStorage, KeptEngineSqliteEventLogStorage), strict=True):
            rows[name].append(ms_per_event(cls, folder, args.events))
    print(f"{args.events} events x {args.rounds} rounds in {folder}; load (1 min) {os.getloadavg()[0]:.1f}")
    print(f"{'event log':40} {'ms/event (best)':>16} {'median':>8}")
    for name, values in rows.items():
        values.sort()
        print(f"{name:40} {values[0]:16.2f} {values[len(values) // 2]:8.2f}")


if __name__ == "__main__":
    main()
