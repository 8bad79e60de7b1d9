"""Shared fixtures: Azurite on a free port, the simulated Graph tenant and an HTTP client of
it, and the app's real handlers as the FunctionApp registers them.

Each test gets its own table prefix, so tests stay isolated on one Azurite and can run in
parallel (pytest-xdist starts one Azurite per worker).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from shared import composition
from tests.support.app import App
from tests.support.azurite import Azurite, child_failures_fail
from tests.support.webhooks import Receiver
from tools.processes import AZURITE, Child, azurite_command, free_azurite_port

AZURITE_START_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite (its Table and Queue services) from node_modules (``make test`` runs
    ``npm ci`` first)."""
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run `npm ci` (make test does).")
    port = free_azurite_port()
    workdir = tmp_path_factory.mktemp("azurite")
    # Azurite writes its debug files in its working directory.
    child = Child("azurite", azurite_command(port), cwd=workdir, log_dir=workdir)
    try:
        with child_failures_fail():
            child.wait_for_azurite(port, AZURITE_START_TIMEOUT)
        yield Azurite(port)
    finally:
        child.stop()


@pytest.fixture
def table_prefix() -> str:
    return f"T{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def tenant() -> AsyncIterator[Any]:
    """The simulated Graph tenant, in this test's event loop, on a free port."""
    from tools.graph_tenant import SimulatedTenant

    async with SimulatedTenant() as simulated:
        yield simulated


@pytest.fixture
async def client(tenant: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the simulated tenant (the ``tenant`` fixture the test sees), as the
    simulated tenant's own tests call it."""
    async with httpx.AsyncClient(base_url=tenant.url, timeout=5, trust_env=False) as http:
        yield http


@pytest.fixture
def app_settings(
    monkeypatch: pytest.MonkeyPatch, azurite: Azurite, table_prefix: str, tenant: Any
) -> dict[str, str]:
    """App settings pointing at this test's Azurite tables and simulated tenant."""
    values = {
        "AzureWebJobsStorage": azurite.connection_string,
        "STATUS_TABLE_PREFIX": table_prefix,
        "GRAPH_BASE_URL": tenant.url,
        "GRAPH_AUTH": "none",
        "GRAPH_TIMEOUT_SECONDS": "2",
        "POLL_SCHEDULE": "0 */5 * * * *",
        # As the Functions host sets it (Core Tools: localhost:7071): the links' origin.
        "WEBSITE_HOSTNAME": "localhost:7071",
        # On by default; the tests of jobs and of Entra Connect switch them on themselves, so
        # that the others poll School Data Sync alone.
        "PROVISIONING_JOBS_ENABLED": "false",
        "DIRECTORY_SYNC_ENABLED": "false",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    composition.reload_settings()
    yield values
    composition.reload_settings()


@pytest.fixture
async def app(app_settings: dict[str, str]) -> AsyncIterator[App]:
    yield App()
    await composition.close()  # this test's event loop ends with it


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read a developer's real settings by accident."""
    for name in list(os.environ):
        if name.startswith("AzureWebJobsStorage") or name.startswith("GRAPH_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


@pytest.fixture
def insecure_webhooks(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver is http on loopback, which only ALLOW_INSECURE_WEBHOOKS permits."""
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")
    composition.reload_settings()
