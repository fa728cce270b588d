"""The project's Dagster instance storage (dagster.yaml -> defs/instance_storage.py): Dagster's own SQLite
layout, readable by Dagster's default storage, with one engine per database file instead of one per event."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from sop_pipeline.common.resources import DAGSTER_INSTANCE_YAML
from sop_pipeline.defs import instance_storage


@dg.asset
def numbers(context) -> int:
    for i in range(20):
        context.log.info(f"line {i}")
    return 1


@dg.asset
def doubled(numbers: int) -> int:
    return 2 * numbers


@pytest.fixture
def project_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(DAGSTER_INSTANCE_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_the_project_instance_stores_a_run_that_dagsters_default_storage_reads(project_home, monkeypatch):
    created = []
    real = instance_storage.create_engine
    monkeypatch.setattr(instance_storage, "create_engine", lambda *a, **k: created.append(a[0]) or real(*a, **k))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, instance_storage.KeptEngineSqliteEventLogStorage)
        result = dg.materialize([numbers, doubled], instance=instance)
        assert result.success
        stored = instance.all_logs(result.run_id)
    assert len(stored) > 40  # 20 log lines and every step event
    # One engine per database file (the run's shard and the cross-run index), not one per event.
    assert len(created) == len(set(created)) <= 2

    # The same home read with Dagster's default storage (a dagster.yaml without the storage key).
    (project_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.get() as default:
        assert type(default.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert [e.message for e in default.all_logs(result.run_id)] == [e.message for e in stored]
        assert default.get_run_by_id(result.run_id).is_success
        assert default.get_latest_materialization_event(dg.AssetKey("doubled")).run_id == result.run_id
