"""`make run` itself: from an app folder with only the example settings to a demo tenant
served on the API, then Ctrl-C leaves nothing running."""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.environment import clean_env
from tools.processes import REPO, Child, free_port

# make run's fixed ports: UseDevelopmentStorage=true means 10002; the demo tenant is on 7072.
FIXED_PORTS = (10002, 7072)
APP_FILES = ("function_app.py", "host.json", "local.settings.json.example", "functions", "shared")


def in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def round_done(port: int, timeout: float) -> dict[str, int]:
    """The latest round's counts from /api/health, once each of its tenants was polled."""
    deadline = time.monotonic() + timeout
    while True:
        found = httpx.get(f"http://127.0.0.1:{port}/api/health").json().get("round") or {}
        counts = {name: found.get(name) for name in ("tenants", "done", "duplicates")}
        if (found and found["done"] >= found["tenants"]) or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def fresh_app(app: Path) -> Path:
    """A fresh copy of the app: no local.settings.json, no .azurite/."""
    for name in APP_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            app.mkdir(exist_ok=True)
            shutil.copy(source, app / name)
    return app


@pytest.mark.e2e
def test_make_run_serves_the_demo_tenant_within_60_s_and_stops_cleanly(tmp_path: Path) -> None:
    busy = [port for port in FIXED_PORTS if in_use(port)]
    if busy:
        pytest.skip(f"make run needs ports {FIXED_PORTS}; in use here: {busy}")
    app = fresh_app(tmp_path / "app")
    port = free_port()
    run = Child(
        "make-run",
        [sys.executable, "-m", "tools.run_local", "--app-dir", str(app)],
        env=clean_env() | {"FUNCTIONS_PORT": str(port)},
        log_dir=tmp_path,
    )
    started = time.monotonic()
    try:
        run.wait_for_line(lambda line: "SyncStatus is running" in line, timeout=60)
        board_line = run.wait_for_line(lambda line: "Board:" in line, timeout=5)
        board_url = board_line.split()[1]
        assert board_url == f"http://localhost:{port}/api/board"  # no key configured: none
        page = httpx.get(board_url)
        assert page.status_code == 200 and "<svg" in page.text
        reply = httpx.get(f"http://127.0.0.1:{port}/api/education/synchronizationProfiles")
        ready_in = time.monotonic() - started
        assert reply.status_code == 200
        profiles = reply.json()["value"]
        assert len(profiles) == 8  # the demo schools
        assert all(profile["profileStatus"]["status"] for profile in profiles)
        rows = httpx.get(f"http://127.0.0.1:{port}/api/statuses", params={"$top": "999"})
        assert rows.status_code == 200
        by_source: dict[str, list[dict[str, object]]] = {}
        for row in rows.json()["value"]:
            by_source.setdefault(str(row["source"]), []).append(row)
        # Every demo source, each with something broken to show.
        assert set(by_source) == {
            "educationSynchronizationProfiles",
            "synchronizationJobs",
            "directorySynchronization",
            "industryDataRuns",
        }
        jobs = by_source["synchronizationJobs"]
        assert {row["health"] for row in jobs} >= {"error", "warning"}
        assert any(row["health"] == "error" for row in by_source["industryDataRuns"])
        # Jobs found by discovery alone, of every kind, named after their service principals,
        # one stalled and one explained by the provisioning logs.
        names = " | ".join(str(row["displayName"]) for row in jobs)
        for kind in ("Entra Cloud Sync", "cross-tenant synchronization", "app provisioning"):
            assert kind in names, names
        reasons = [str(row["reason"]) for row in jobs]
        assert any("failed to provision in the last 24 h" in reason for reason in reasons)
        assert any(reason.startswith("No successful provisioning cycle") for reason in reasons)
        (connect,) = by_source["directorySynchronization"]
        assert str(connect["reason"]).startswith("Last directory sync 1 h 5")  # 117 min ago
        health = httpx.get(f"http://127.0.0.1:{port}/api/health").json()
        assert len(health["sources"]) == 4
        # Three tenants with no settings: the demo's own, a school trust, one not consented.
        tenants = httpx.get(f"http://127.0.0.1:{port}/api/tenants").json()["value"]
        consent = {t["displayName"]: t["consent"]["state"] for t in tenants}
        assert consent == {"Home tenant": "consented", "Northwind Academy Trust": "consented",
                           "Tailspin Toys": "consentNeeded"}  # fmt: skip
        school = next(t["tenantId"] for t in tenants if t["displayName"].startswith("North"))
        of_school = {str(r["source"]) for r in rows.json()["value"] if r["tenantId"] == school}
        assert of_school == {"educationSynchronizationProfiles", "industryDataRuns"}
        # The round went through the poll queue: one message per tenant, each polled once.
        assert round_done(port, timeout=20) == {"tenants": 3, "done": 3, "duplicates": 0}
        assert ready_in < 60
        assert (app / "local.settings.json").exists()
        assert (app / ".azurite").is_dir()
    finally:
        run.process.send_signal(signal.SIGINT)  # Ctrl-C reaches run_local, not its children
        code = run.process.wait(timeout=30)
    assert code == 0, run.tail()
    assert "Stopped." in run.tail()
    # Each request's lines went to the run's request log, not to the console.
    requests = (app / ".logs" / f"host-{port}-requests.log").read_text()
    assert "GET /api/statuses?$top=999 -> 200" in requests
    assert "GET /api/statuses" not in run.log.read_text()
    assert "Unclosed" not in run.log.read_text()  # the host closed its connections
    assert not [p for p in (*FIXED_PORTS, port) if in_use(p)], "a child outlived make run"


@pytest.mark.e2e
def test_two_make_runs_share_one_machine(tmp_path: Path) -> None:
    """The second run finds Azurite's and the tenant's default ports taken (by the first, or
    by anything else) and takes free ones; both serve their own demo."""
    app = fresh_app(tmp_path / "app")
    runs: list[tuple[Child, int]] = []
    try:
        for index in range(2):
            port = free_port()
            run = Child(
                f"make-run-{index}",
                [sys.executable, "-m", "tools.run_local", "--app-dir", str(app)],
                env=clean_env() | {"FUNCTIONS_PORT": str(port)},
                log_dir=tmp_path,
            )
            runs.append((run, port))
            run.wait_for_line(lambda line: "SyncStatus is running" in line, timeout=60)
        second = runs[1][0].log.read_text()
        assert "Port 10002 is in use" in second and "Port 7072 is in use" in second
        for run, port in runs:
            rows = httpx.get(f"http://127.0.0.1:{port}/api/statuses", params={"$top": "999"})
            assert rows.status_code == 200, run.tail()
            assert {row["source"] for row in rows.json()["value"]} >= {
                "educationSynchronizationProfiles",
                "synchronizationJobs",
            }
    finally:
        for run, _port in reversed(runs):
            run.process.send_signal(signal.SIGINT)
            assert run.process.wait(timeout=30) == 0, run.tail()
