"""A wheel of the project works without the checkout: `pip install` (not editable), then a plan cycle
run from an empty folder holding only a copy of the demo inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.support.files import PROJECT_ROOT


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_wheel_installs_and_plans_the_demo_from_an_empty_folder(tmp_path):
    # Built from a copy of the tracked files: setuptools builds in the source folder (build/), and a
    # stale build/ there could put deleted modules into the wheel.
    source = tmp_path / "source"
    tracked = _run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT).stdout.split("\0")
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (PROJECT_ROOT / name).is_symlink():
            target.symlink_to(os.readlink(PROJECT_ROOT / name))
        elif (PROJECT_ROOT / name).is_file():
            shutil.copy2(PROJECT_ROOT / name, target)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)])
    wheel = next(dist.glob("sop_pipeline-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("sop_pipeline/_bundled/sql/create_tables.sql", "sop_pipeline/_bundled/dagster.yaml",
                    "sop_pipeline/_bundled/assets/demo/sop.yaml", "sop_pipeline/_bundled/assets/demo/sales_history.csv",
                    "sop_pipeline/_bundled/assets/examples/red_tomato.yaml", "sop_pipeline/py.typed"):
        assert shipped in names, f"{shipped} is not in the wheel"
    # Test and benchmark data generators stay in the checkout.
    assert not [n for n in names if "synthetic" in n], "test-only code is in the wheel"

    # A fresh environment; its third-party packages come from this one (no download), but the
    # project itself only from the wheel: a directory added by a .pth file does not run its own
    # .pth files, so this environment's editable install of the checkout is not seen there.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                     ).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)])

    work = tmp_path / "planner"
    work.mkdir()
    for path in (PROJECT_ROOT / "assets" / "demo").iterdir():
        shutil.copy(path, work / path.name)
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "SOP_CONFIG", "SOP_DB", "PYTHONPATH")}
    found = _run([str(venv / "bin" / "python"), "-c", "import sop_pipeline; print(sop_pipeline.__file__)"],
                 cwd=work, env=env).stdout.strip()
    assert Path(found).resolve().is_relative_to(venv.resolve()), f"imported {found}, not the installed wheel"

    done = subprocess.run([str(venv / "bin" / "sop-pipeline"), "run", "--config", "sop.yaml", "--db", "plan.duckdb"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    conn = duckdb.connect(str(work / "plan.duckdb"), read_only=True)
    try:
        rows = conn.execute("SELECT count(*) FROM plan.sop.production_plan").fetchall()[0][0]
    finally:
        conn.close()
    assert rows > 0
    assert (work / "reports").is_dir() and any((work / "reports").glob("sop_report_*.html"))
