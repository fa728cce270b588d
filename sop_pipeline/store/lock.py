"""One run at a time per plan database: an exclusive lock held for the run's whole life.

Two runs on one database would interleave their stages through the shared `draft.*` tables and could
publish a plan mixing both. So a run takes an exclusive `flock` on a lock file beside the database
(`sop.duckdb` → `sop.duckdb.lock`) before its first stage and releases it after its last; the file
records who holds it (run id, start time, process), so a second run can say whom it waits for.
The operating system drops the lock when the holding process ends, even on SIGKILL: a crashed run
never leaves the database locked.

Within one process the lock is re-entrant: `sop-pipeline run` takes it before starting the Dagster
run (to wait or stop with `--no-wait` before anything starts), and the run's database resource takes
it again, which is how runs launched from the UI or the schedule are serialised too.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sop_pipeline.common.errors import DatabaseBusyError


@dataclass(frozen=True)
class LockHolder:
    """Who holds a database's run lock, as recorded in the lock file."""

    run_id: str
    started_at: str
    pid: int
    host: str

    def describe(self) -> str:
        return f"run {self.run_id or '(unknown)'} (started {self.started_at}, process {self.pid} on {self.host})"


def lock_path(db_path: str | Path) -> Path:
    """The lock file beside the plan database."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".lock")


def read_holder(db_path: str | Path) -> LockHolder | None:
    """The holder recorded in the lock file (None when the file is empty or absent)."""
    try:
        data = json.loads(lock_path(db_path).read_text() or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return LockHolder(str(data.get("run_id", "")), str(data.get("started_at", "")), int(data.get("pid", 0)),
                      str(data.get("host", "")))


# Locks this process holds: path -> [file descriptor, depth].
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


@contextmanager
def run_lock(db_path: str | Path, run_id: str, wait: bool = True,
             on_wait: Callable[[LockHolder | None], None] | None = None, poll_s: float = 0.2) -> Iterator[None]:
    """Hold the database's run lock for the `with` block.

    Held by another process: with `wait`, call `on_wait(holder)` once (and again if the holder changes)
    and wait until it is free; without, raise `DatabaseBusyError` naming the holder.
    """
    path = lock_path(db_path).resolve()
    key = str(path)
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, db_path, wait, on_wait, poll_s)
        record = {"run_id": run_id, "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                  "pid": os.getpid(), "host": socket.gethostname()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        with _held_guard:
            _held[key] = [fd, 1]
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
            os.ftruncate(fd, 0)  # the file stays (removing it would race with a waiting run); it says: free
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, db_path, wait: bool, on_wait, poll_s: float) -> None:
    announced: LockHolder | None | bool = False  # False: nothing said yet
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = read_holder(db_path)
        if not wait:
            raise DatabaseBusyError(
                f"The plan database is in use by {holder.describe() if holder else 'another run'}",
                where=str(db_path),
                fix="Run again when that run has finished, or run without --no-wait to wait for it") from None
        if on_wait is not None and holder != announced:
            on_wait(holder)
            announced = holder
        time.sleep(poll_s)
