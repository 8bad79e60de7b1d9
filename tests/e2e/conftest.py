"""End-to-end fixtures: the simulated Graph tenant and the local Functions host, each a real
subprocess on a free port, driven over HTTP only, with the session's Azurite from
``tests/conftest.py``.

Everything is session-scoped (one stack per pytest-xdist worker) and isolated: own ports, a
unique ``STATUS_TABLE_PREFIX``, random keys. Children (``tools.processes.Child``) run in their
own process group, write their output to files in a temp dir (the tail is shown when one fails
to start), and are always stopped by the fixtures' finalizers.

Tests that change the tenant use profiles they create themselves, so they do not depend on
the order in which they run.
"""

from __future__ import annotations

import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.azurite import Azurite, child_failures_fail
from tests.support.environment import clean_env
from tools.processes import Child, free_port, storage_names

POLL_FUNCTION = "poll_sync_statuses"
# The service principal whose jobs the e2e host polls (named: no discovery to wait for).
E2E_SERVICE_PRINCIPAL = "e2e0e2e0-0000-4000-8000-00000000e2e0"
PROFILES = "/api/education/synchronizationProfiles"
START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def tenant_url(e2e_logs: Path) -> Iterator[str]:
    tenant = Child(
        "graph",
        [sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--profiles", "8"],
        env=clean_env(),
        log_dir=e2e_logs,
    )
    try:
        with child_failures_fail():
            line = tenant.wait_for_line(
                lambda text: text.startswith("GRAPH_TENANT_URL="), START_TIMEOUT
            )
        url = line.partition("=")[2].strip()
        added = httpx.put(f"{url}/_tenant/servicePrincipals/{E2E_SERVICE_PRINCIPAL}", json={})
        assert added.is_success, added.text
        yield url
    finally:
        tenant.stop()


@dataclass(frozen=True)
class HostProcess:
    url: str
    function_key: str
    master_key: str
    child: Child


@pytest.fixture(scope="session")
def host(e2e_logs: Path, azurite: Azurite, tenant_url: str) -> Iterator[HostProcess]:
    port = free_port()
    function_key = secrets.token_urlsafe(24)
    master_key = secrets.token_urlsafe(24)
    env = (
        clean_env()
        | {
            "AzureWebJobsStorage": azurite.connection_string,
            "GRAPH_BASE_URL": tenant_url,
            "GRAPH_AUTH": "none",
            "GRAPH_TIMEOUT_SECONDS": "5",
            "POLL_SCHEDULE": "0 0 0 1 1 *",  # far away: polls come from the admin API only
            **storage_names(f"E2e{uuid.uuid4().hex[:12]}"),
            "FUNCTIONS_FUNCTION_KEY": function_key,
            "FUNCTIONS_MASTER_KEY": master_key,
            # The tests' webhook receivers listen on http://127.0.0.1, which the SSRF guard
            # refuses unless told otherwise.
            "ALLOW_INSECURE_WEBHOOKS": "true",
            # Schemathesis reaches the job actions' own checks, not only their switch.
            "PROVISIONING_ACTIONS_ENABLED": "true",
            "PROVISIONING_SERVICE_PRINCIPAL_IDS": E2E_SERVICE_PRINCIPAL,
        }
    )
    child = Child(
        "host",
        [sys.executable, "-m", "tools.local_host", "--port", str(port)],
        env=env,
        log_dir=e2e_logs,
    )
    try:
        with child_failures_fail():
            child.wait_for_line(lambda text: "Host started" in text, START_TIMEOUT)
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
        failure = self.host.child.failure(f"ran no complete poll within {timeout:.0f} s")
        pytest.fail(str(failure), pytrace=False)

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
