"""The Dagster UI for real: the webserver on 127.0.0.1 loads the project and shows every asset and check.

The exact lists come from the webserver's GraphQL endpoint (what the UI itself renders from); the
asset catalogue page is rendered in headless Chromium to check the keys are on the page and that no
error banner is shown. The server always runs with a temporary DAGSTER_HOME and database and is
stopped at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.files import PROJECT_ROOT, require_chromium

STARTUP_TIMEOUT_S = 180
# Texts of the Dagster UI's error states (code location load errors, reload failures, Python errors).
ERROR_TEXTS = ("Error loading", "failed to load", "reload failed", "PythonError", "Traceback",
               "Unexpected error")

QUERY = """{
  workspaceOrError { __typename ... on Workspace { locationEntries { name
      locationOrLoadError { __typename ... on PythonError { message } } } } }
  assetNodes { assetKey { path } isMaterializable
      assetChecksOrError { __typename ... on AssetChecks { checks { name } } } }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer.get("errors")
    return answer["data"]


def visible_text(dom: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets the UI's GraphQL fetches complete)."""
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--window-size=1400,3000", "--virtual-time-budget=30000",
         "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """`dagster-webserver` for the project on a free local port; yields its base URL."""
    require_chromium()
    folder = tmp_path_factory.mktemp("dagster_ui")
    home = folder / "dagster_home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "SOP_DB": str(folder / "sop.duckdb")}
    log = (folder / "webserver.log").open("w")
    webserver_bin = Path(sys.executable).with_name("dagster-webserver")
    # Its own session, so stopping it also stops the code server it spawns.
    process = subprocess.Popen([str(webserver_bin), "-m", "sop_pipeline.definitions", "-h", "127.0.0.1",
                                "-p", str(port)], cwd=PROJECT_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {process.returncode}:\n"
                            + (folder / "webserver.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"dagster-webserver did not answer within {STARTUP_TIMEOUT_S} s")
                time.sleep(1)
        yield base, folder
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        log.close()


def expected_graph():
    from sop_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {"/".join(k.path) for k in graph.get_all_asset_keys()}
    materializable = {"/".join(k.path) for k in graph.materializable_asset_keys}
    checks = {("/".join(k.asset_key.path), k.name) for k in graph.asset_check_keys}
    return assets, materializable, checks


@pytest.mark.browser
def test_ui_serves_every_asset_and_check(webserver):
    base, _ = webserver
    data = graphql(base, QUERY)
    locations = data["workspaceOrError"]["locationEntries"]
    assert [entry["locationOrLoadError"]["__typename"] for entry in locations] == ["RepositoryLocation"], locations

    assets, materializable, checks = expected_graph()
    assert "sop/executive_report" in materializable and checks, "the project's definitions look empty"
    served = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    served_checks = {("/".join(node["assetKey"]["path"]), check["name"]) for node in data["assetNodes"]
                     for check in node["assetChecksOrError"].get("checks", [])}
    assert assets <= served, f"missing in the UI: {sorted(assets - served)}"
    assert checks <= served_checks, f"checks missing in the UI: {sorted(checks - served_checks)}"


@pytest.mark.browser
def test_asset_pages_render_without_error_banner(webserver):
    base, folder = webserver
    _, materializable, _ = expected_graph()
    catalogue = dump_dom(f"{base}/assets", folder / "chromium")
    text = visible_text(catalogue)
    # Each asset is listed with a link to its page (/assets/sop/forecast, ...).
    listed = set(re.findall(r'href="/assets/([^"?#]+)"', catalogue))
    assert materializable <= listed, f"not on the asset page: {sorted(materializable - listed)}"
    lineage = visible_text(dump_dom(f"{base}/asset-groups", folder / "chromium"))
    for group in ("ingest", "forecast", "publish", "report"):
        assert group in lineage
    for page in (text, lineage):
        shown = [e for e in ERROR_TEXTS if e.lower() in page.lower()]
        assert not shown, f"the UI shows an error: {shown}"


def test_cli_ui_binds_localhost_by_default(monkeypatch, tmp_path):
    """`sop-pipeline ui` starts `dagster dev` on 127.0.0.1 unless told otherwise (no server started here)."""
    from sop_pipeline import cli
    commands = []
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(cli, "run_supervised", lambda command: commands.append(command) or 0)
    assert cli.main(["ui"]) == 0
    command = commands[0]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert "sop_pipeline.definitions" in command


def _wait_for_answer(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"sop-pipeline ui exited with {process.returncode}:\n" + log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{base}/server_info", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                pytest.fail(f"sop-pipeline ui did not answer within {STARTUP_TIMEOUT_S} s")
            time.sleep(1)


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_ui_stops_everything_it_started(tmp_path, stop_signal):
    """SIGTERM (a service manager) or SIGINT (Ctrl-C) to `sop-pipeline ui` stops `dagster dev`, its
    webserver, daemon and code servers: no process it started survives."""
    import psutil

    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "SOP_DB": str(tmp_path / "sop.duckdb")}
    log = tmp_path / "ui.log"
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "sop_pipeline.cli", "ui", "--port", str(port)],
                                   cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        try:
            _wait_for_answer(f"http://127.0.0.1:{port}", process, log)
            started = psutil.Process(process.pid).children(recursive=True)
            names = " ".join(" ".join(p.cmdline()) for p in started)
            assert "dagster" in names and len(started) >= 3, names  # dagster dev, webserver, daemon, ...
            process.send_signal(stop_signal)
            code = process.wait(timeout=120)
            _, alive = psutil.wait_procs(started, timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
    survivors = [" ".join(p.cmdline()) for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not survivors, f"still running after {stop_signal.name}: {survivors}"
    assert code in (0, 128 + stop_signal, 1), log.read_text()[-2000:]
