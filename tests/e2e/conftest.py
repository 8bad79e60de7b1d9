"""End-to-end fixtures: Azurite, the simulated Graph tenant and the local Functions host, each
a real subprocess on a free port, driven over HTTP only.

Everything is session-scoped (one stack per pytest-xdist worker) and isolated: own ports, a
unique ``STATUS_TABLE_PREFIX``, random keys. Children run in their own process group, write
their output to files in a temp dir (the tail is shown when one fails to start), and are
always stopped by the fixtures' finalizers.

Tests that change the tenant use profiles they create themselves, so they do not depend on
the order in which they run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
AZURITE_TABLE = REPO / "node_modules" / ".bin" / "azurite-table"
# The documented key of the Storage emulators' devstoreaccount1 (public, not a secret).
DEVSTORE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
POLL_FUNCTION = "poll_sync_statuses"
PROFILES = "/api/education/synchronizationProfiles"
START_TIMEOUT = 60.0
# Settings a developer's shell might carry that must not leak into the stack under test.
_STRAY_PREFIXES = ("AzureWebJobs", "GRAPH_", "FUNCTIONS_", "POLL_SCHEDULE", "STATUS_TABLE_PREFIX")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A subprocess in its own process group, its output in ``<log_dir>/<name>.log``."""

    def __init__(
        self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def fail(self, why: str) -> NoReturn:
        pytest.fail(f"{self.name} {why}; its last output:\n{self.tail()}", pytrace=False)

    def wait_for_line(self, predicate: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if predicate(line):
                    return line
            if self.process.poll() is not None:
                self.fail(f"exited with {self.process.returncode} during start-up")
            time.sleep(0.05)
        self.fail(f"did not start within {START_TIMEOUT:.0f} s")

    def wait_for_port(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"exited with {self.process.returncode} during start-up")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.05)
        self.fail(f"did not listen on port {port} within {START_TIMEOUT:.0f} s")

    def stop(self) -> int | None:
        """SIGTERM to the group, SIGKILL after 10 s; the exit code (None if it had to be killed)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                return None
        return self.process.returncode


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_STRAY_PREFIXES)}


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def azurite_port(e2e_logs: Path) -> Iterator[int]:
    if not AZURITE_TABLE.exists():
        pytest.fail(f"{AZURITE_TABLE} is missing: run `npm ci` (make test does).")
    port = free_port()
    data = e2e_logs / "azurite-data"
    data.mkdir()
    azurite = Child(
        "azurite",
        [
            str(AZURITE_TABLE),
            "--inMemoryPersistence",
            "--tableHost", "127.0.0.1",
            "--tablePort", str(port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        cwd=data,
        env=_clean_env(),
        log_dir=e2e_logs,
    )  # fmt: skip
    try:
        azurite.wait_for_port(port)
        yield port
    finally:
        azurite.stop()


@pytest.fixture(scope="session")
def tenant_url(e2e_logs: Path) -> Iterator[str]:
    tenant = Child(
        "graph",
        [sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--profiles", "8"],
        cwd=REPO,
        env=_clean_env(),
        log_dir=e2e_logs,
    )
    try:
        line = tenant.wait_for_line(lambda text: text.startswith("GRAPH_TENANT_URL="))
        yield line.partition("=")[2].strip()
    finally:
        tenant.stop()


@dataclass(frozen=True)
class HostProcess:
    url: str
    function_key: str
    master_key: str
    child: Child


@pytest.fixture(scope="session")
def host(e2e_logs: Path, azurite_port: int, tenant_url: str) -> Iterator[HostProcess]:
    port = free_port()
    function_key = secrets.token_urlsafe(24)
    master_key = secrets.token_urlsafe(24)
    env = (
        _clean_env()
        | {
            "AzureWebJobsStorage": (
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                f"AccountKey={DEVSTORE_KEY};"
                f"TableEndpoint=http://127.0.0.1:{azurite_port}/devstoreaccount1;"
            ),
            "GRAPH_BASE_URL": tenant_url,
            "GRAPH_AUTH": "none",
            "GRAPH_TIMEOUT_SECONDS": "5",
            "POLL_SCHEDULE": "0 0 0 1 1 *",  # far away: polls come from the admin API only
            "STATUS_TABLE_PREFIX": f"E2e{uuid.uuid4().hex[:12]}",
            "FUNCTIONS_FUNCTION_KEY": function_key,
            "FUNCTIONS_MASTER_KEY": master_key,
        }
    )
    child = Child(
        "host",
        [sys.executable, "-m", "tools.local_host", "--port", str(port)],
        cwd=REPO,
        env=env,
        log_dir=e2e_logs,
    )
    try:
        child.wait_for_line(lambda text: "Host started" in text)
        yield HostProcess(f"http://127.0.0.1:{port}", function_key, master_key, child)
    finally:
        code = child.stop()
        if code != 0:
            print(f"host exited with {code}; its last output:\n{child.tail()}")


class Stack:
    """HTTP clients for the host (with and without keys) and the tenant's control API."""

    def __init__(self, host: HostProcess, tenant_url: str) -> None:
        self.host = host
        self.api = httpx.Client(
            base_url=host.url, headers={"x-functions-key": host.function_key}, timeout=15
        )
        self.anonymous = httpx.Client(base_url=host.url, timeout=15)
        self.admin = httpx.Client(
            base_url=host.url, headers={"x-functions-key": host.master_key}, timeout=15
        )
        self.tenant = httpx.Client(base_url=tenant_url, timeout=15)

    def close(self) -> None:
        for client in (self.api, self.anonymous, self.admin, self.tenant):
            client.close()

    def add_profile(self, status: dict[str, Any] | None = None, **fields: Any) -> str:
        """A new profile in the tenant, with an id no other test uses."""
        profile_id = str(uuid.uuid4())
        body: dict[str, Any] = {"id": profile_id, "displayName": f"E2E {profile_id[:8]}"}
        if status is not None:
            body["status"] = {"id": profile_id, **status}
        response = self.tenant.post("/_tenant/profiles", json=body | fields)
        assert response.status_code == 201, response.text
        return profile_id

    def trigger_poll(self) -> None:
        response = self.admin.post(f"/admin/functions/{POLL_FUNCTION}", json={"input": ""})
        assert response.status_code == 202, response.text

    def poll(self, timeout: float = 30.0) -> dict[str, Any]:
        """Start a poll and wait until one that started after now has finished.

        The admin API answers 202 even when a poll is already running (that run is then
        skipped), so the trigger is repeated until a fresh poll shows up in /api/health.
        """
        asked = datetime.now(UTC)
        deadline = time.monotonic() + timeout
        next_trigger = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_trigger:
                self.trigger_poll()
                next_trigger = time.monotonic() + 2.0
            last = self.last_poll()
            if (
                last is not None
                and last.get("finishedDateTime")
                and datetime.fromisoformat(last["startedDateTime"]) >= asked
            ):
                return last
            time.sleep(0.1)
        self.host.child.fail(f"ran no complete poll within {timeout:.0f} s")

    def last_poll(self) -> dict[str, Any] | None:
        health = self.anonymous.get("/api/health").json()
        for source in health.get("sources", []):
            if source.get("source") == "educationSynchronizationProfiles":
                return source.get("lastPoll")
        return None

    def status_path(self, profile_id: str) -> str:
        return f"{PROFILES}/{profile_id}/profileStatus"


@pytest.fixture(scope="session")
def stack(host: HostProcess, tenant_url: str) -> Iterator[Stack]:
    """The running stack, with a first poll done so the cache has the tenant's profiles."""
    clients = Stack(host, tenant_url)
    try:
        clients.poll()
        yield clients
    finally:
        clients.close()
