"""Start-up in proportion (issue 21): `--help` and the run's definitions do not load the heavy
libraries a step needs (each checked in a fresh interpreter, by what is in sys.modules)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("great_expectations", "cvxpy", "prophet", "cmdstanpy", "matplotlib", "scipy")


def _loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_loads_no_heavy_library_nor_settings_schema():
    code = ("from sop_pipeline.cli import build_parser\nimport contextlib, io\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    build_parser(['--help']).parse_args(['--help'])\n"
            "assert 'pydantic' not in sys.modules and 'polars' not in sys.modules, sorted(sys.modules)")
    assert _loaded_after(code) == []


def test_help_lists_every_command():
    done = subprocess.run([sys.executable, "-m", "sop_pipeline.cli", "--help"], capture_output=True, text=True,
                          check=True)
    for name in ("run", "plan", "init", "what-if", "ui"):
        assert f"    {name} " in done.stdout


def test_definitions_leave_checks_forecast_and_planning_libraries_to_their_steps():
    # matplotlib is still imported by the definitions (the forecast plot): not yet lazy
    assert _loaded_after("import sop_pipeline.definitions", tuple(m for m in HEAVY if m != "matplotlib")) == []
