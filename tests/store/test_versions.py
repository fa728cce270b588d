"""Plan versions (store/versions.py, `sop-pipeline approve`): every run is a new version, an approved one is
never overwritten, sop.* shows the approved (else latest) version, and an old release's database upgrades."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest

from sop_pipeline.store import db, versions
from tests.support.files import PROJECT_ROOT, SMALL_CYCLE, snapshot, write_settings

CYCLE = date(2026, 11, 1)
# The commit before plan versions: the previous release's code, to build a database as it wrote them.
PREVIOUS_RELEASE = "1565f98"


def rows(conn, sql: str, params: dict | None = None) -> list:
    return conn.execute(sql, params or {}).fetchall()


def version_rows(conn, table: str, version: int) -> list:
    return rows(conn, f"SELECT * EXCLUDE (version) FROM sop_versions.{table} WHERE plan_cycle = $c "
                      f"AND version = $v ORDER BY ALL", {"c": CYCLE, "v": version})


def shown_rows(conn, table: str) -> list:
    return rows(conn, f"SELECT * FROM sop.{table} WHERE plan_cycle = $c ORDER BY ALL", {"c": CYCLE})


def status(conn) -> dict[int, str]:
    return dict(rows(conn, "SELECT version, status FROM sop_versions.plan_runs WHERE plan_cycle = $c", {"c": CYCLE}))


def republish_changed_draft(db_path: Path, factor: float) -> versions.Published:
    """Publish the cycle again from its draft rows with every planned unit scaled: a run whose plan differs."""
    conn = db.connect(db_path)
    try:
        db.ensure_schema(conn)
        conn.execute("UPDATE draft.demand_plan SET planned_units = planned_units * $f WHERE plan_cycle = $c",
                     {"f": factor, "c": CYCLE})
        return versions.publish(conn, CYCLE)
    finally:
        conn.close()


def test_readers_default_rows_follow_approval(published_copy, run_cli):
    second = republish_changed_draft(published_copy, 2.0)
    assert (second.version, second.approved_version) == (2, None)
    conn = db.connect(published_copy, read_only=True)
    try:
        assert status(conn) == {1: "superseded", 2: "proposed"}
        # No approval yet: sop.* shows the latest version.
        assert shown_rows(conn, "demand_plan") == version_rows(conn, "demand_plan", 2)
        assert version_rows(conn, "demand_plan", 1) != version_rows(conn, "demand_plan", 2)
    finally:
        conn.close()

    result = run_cli("approve", "--db", published_copy, "--cycle", SMALL_CYCLE, "--version", "1", "--by", "Ana",
                     "--note", "the unscaled plan")
    assert result.code == 0, result.text
    assert "Approved version 1" in result.out
    conn = db.connect(published_copy, read_only=True)
    try:
        assert status(conn) == {1: "approved", 2: "proposed"}
        for table in db.PLAN_TABLES:
            if table != "plan_runs":
                assert shown_rows(conn, table) == version_rows(conn, table, 1), table
        assert rows(conn, "SELECT version, status FROM sop.plan_runs WHERE plan_cycle = $c", {"c": CYCLE}) == [
            (1, "approved")]
        assert rows(conn, "SELECT version, decision, decided_by, note FROM sop.decisions") == [
            (1, "approved", "Ana", "the unscaled plan")]
    finally:
        conn.close()
    # The snapshot SQL readers use follows too.
    snap = duckdb.connect(str(db.snapshot_path(published_copy)), read_only=True)
    try:
        assert shown_rows(snap, "demand_plan") == shown_rows(db.connect(published_copy, read_only=True), "demand_plan")
    finally:
        snap.close()

    # A third publication while version 1 is approved: sop.* keeps version 1.
    third = republish_changed_draft(published_copy, 3.0)
    assert (third.version, third.approved_version) == (3, 1)
    assert "approved version 1 is kept" in third.describe()
    conn = db.connect(published_copy, read_only=True)
    try:
        assert status(conn) == {1: "approved", 2: "superseded", 3: "proposed"}
        assert shown_rows(conn, "demand_plan") == version_rows(conn, "demand_plan", 1)
    finally:
        conn.close()
    # Approving version 3 supersedes version 1.
    assert run_cli("approve", "--db", published_copy, "--cycle", SMALL_CYCLE, "--by", "Ana").code == 0
    conn = db.connect(published_copy, read_only=True)
    try:
        assert status(conn) == {1: "superseded", 2: "superseded", 3: "approved"}
        assert shown_rows(conn, "demand_plan") == version_rows(conn, "demand_plan", 3)
    finally:
        conn.close()


def test_approved_version_survives_a_rerun(published_copy, run_cli, small_sales, tmp_path):
    assert run_cli("approve", "--db", published_copy, "--cycle", SMALL_CYCLE, "--by", "S&OP meeting").code == 0
    approved = snapshot(published_copy)
    # A rerun with other settings (a shorter horizon): a different plan.
    settings = write_settings(tmp_path, small_sales, forecast={"horizon_months": 4})
    result = run_cli("run", "--config", settings, "--db", published_copy, "--cycle", SMALL_CYCLE)
    assert result.code == 0, result.text
    assert "published as version 2 (proposed); approved version 1 is kept" in " ".join(result.out.split())
    assert snapshot(published_copy) == approved
    conn = db.connect(published_copy, read_only=True)
    try:
        assert status(conn) == {1: "approved", 2: "proposed"}
        months = rows(conn, "SELECT version, count(DISTINCT month) FROM sop_versions.demand_plan "
                            "WHERE plan_cycle = $c GROUP BY ALL ORDER BY 1", {"c": CYCLE})
        assert months == [(1, 6), (2, 4)]
    finally:
        conn.close()


@pytest.mark.parametrize("args, expected", [
    (("--cycle", "2025-01"), "Plan cycle 2025-01 has not been published in this database"),
    (("--cycle", SMALL_CYCLE, "--version", "7"), "Plan cycle 2026-11 has no version 7"),
    (("--cycle", SMALL_CYCLE, "--by", " "), "--by is empty"),
])
def test_approving_what_does_not_exist_fails_cleanly(args, expected, published_copy, run_cli):
    before = snapshot(published_copy)
    if "--by" not in args:
        args = (*args, "--by", "Ana")
    result = run_cli("approve", "--db", published_copy, *args)
    assert result.code == 2, result.text
    assert expected in " ".join(result.err.split())
    assert "Choose" in result.err or "--by" in result.err
    assert snapshot(published_copy) == before
    conn = db.connect(published_copy, read_only=True)
    try:
        assert rows(conn, "SELECT count(*) FROM sop.decisions") == [(0,)]
    finally:
        conn.close()


def test_approve_without_a_database_says_which(run_cli, tmp_path):
    result = run_cli("approve", "--db", tmp_path / "none.duckdb", "--cycle", SMALL_CYCLE, "--by", "Ana")
    assert result.code == 2 and "There is no plan database" in result.err
    assert not (tmp_path / "none.duckdb").exists()


def _old_release_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "previous_release"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", PREVIOUS_RELEASE], cwd=PROJECT_ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    # The package reads its SQL through _bundled/sql, a link git archive keeps.
    assert (tree / "sop_pipeline" / "_bundled" / "sql" / "create_tables.sql").exists()
    return tree


def columns(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(f"DESCRIBE sop.{table}").fetchall()]


def test_old_release_database_upgrades_and_keeps_every_cycle(published_small, run_cli, small_sales, tmp_path):
    tree = _old_release_tree(tmp_path)
    old_db = tmp_path / "old.duckdb"
    # The previous release's code publishes two cycles (the small plan relabelled 2026-09 and 2026-10)
    # through its own ensure_schema and publish_cycle.
    code = textwrap.dedent(f"""
        import sop_pipeline, datetime
        assert sop_pipeline.__file__.startswith({str(tree)!r}), sop_pipeline.__file__
        from sop_pipeline.store import db
        conn = db.connect({str(old_db)!r})
        db.ensure_schema(conn)
        conn.execute("ATTACH '{published_small}' AS src (READ_ONLY)")
        for cycle in (datetime.date(2026, 9, 1), datetime.date(2026, 10, 1)):
            for table in db.PLAN_TABLES:
                columns = [r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'plan' "
                    "AND table_schema = 'draft' AND table_name = ?", [table]).fetchall()]
                picked = ", ".join(c for c in columns if c != "plan_cycle")
                conn.execute(f"DELETE FROM draft.{{table}} WHERE plan_cycle = ?", [cycle])
                conn.execute(f"INSERT INTO draft.{{table}} (plan_cycle, {{picked}}) SELECT ?, {{picked}} "
                             f"FROM src.sop.{{table}}", [cycle])
            db.publish_cycle(conn, cycle)
        print(conn.execute("SELECT count(*) FROM sop.plan_runs").fetchall()[0][0])
    """)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    made = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "2"
    raw = duckdb.connect(str(old_db), read_only=True)
    try:
        assert "version" not in [r[0] for r in raw.execute("DESCRIBE sop.plan_runs").fetchall()]
        before = {t: raw.execute(f"SELECT * FROM sop.{t} ORDER BY ALL").fetchall() for t in db.PLAN_TABLES}
        old_columns = {t: [r[0] for r in raw.execute(f"DESCRIBE sop.{t}").fetchall()] for t in db.PLAN_TABLES}
    finally:
        raw.close()

    # This release plans the next cycle into it.
    settings = write_settings(tmp_path, small_sales)
    result = run_cli("run", "--config", settings, "--db", old_db, "--cycle", SMALL_CYCLE)
    assert result.code == 0, result.text
    conn = db.connect(old_db, read_only=True)
    try:
        assert rows(conn, "SELECT plan_cycle::VARCHAR, version, status FROM sop_versions.plan_runs ORDER BY 1") == [
            ("2026-09-01", 1, "proposed"), ("2026-10-01", 1, "proposed"), ("2026-11-01", 1, "proposed")]
        for table, old_rows in before.items():
            # the columns this release added to the table (versions, decisions, ...) are left out of the comparison
            new_columns = [c for c in columns(conn, table) if c not in old_columns[table]]
            shown = ", ".join(f'"{c}"' for c in old_columns[table])
            kept = rows(conn, f"SELECT {shown} FROM sop.{table} WHERE plan_cycle < '2026-11-01' ORDER BY ALL")
            assert kept == old_rows, table
            hidden = ", ".join(sorted({*new_columns, "version"}))
            kept_versions = rows(conn, f"SELECT * EXCLUDE ({hidden}) FROM sop_versions.{table} "
                                       f"WHERE plan_cycle < '2026-11-01' ORDER BY ALL")
            assert kept_versions == old_rows, table
            assert len(old_rows) > 0 or table in ("new_product_plan", "budget_gap"), table
    finally:
        conn.close()
    # The old cycles can be approved like any.
    assert run_cli("approve", "--db", old_db, "--cycle", "2026-10", "--by", "Ana").code == 0
