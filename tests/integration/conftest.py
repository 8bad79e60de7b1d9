"""Fixtures the integration tests share: a status store on this test's Azurite tables, every
source switched on, Graph tokens per tenant, and the templates rendered counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from jinja2 import Template

from shared import composition
from shared.sources import load_settings
from shared.storage.store import StatusStore
from tests.support.azurite import Azurite


@pytest.fixture
async def store(azurite: Azurite, table_prefix: str) -> AsyncIterator[StatusStore]:
    """A status store on this test's tables, as the app makes it from its settings."""
    settings = load_settings(
        {"AzureWebJobsStorage": azurite.connection_string, "STATUS_TABLE_PREFIX": table_prefix}
    )
    store = StatusStore.from_settings(settings)
    yield store
    await store.close()


@pytest.fixture
def job_service_principal_ids() -> str:
    """The service principals whose provisioning jobs ``all_sources`` polls (a comma-separated
    list): a module that uses ``all_sources`` names its own."""
    pytest.fail("all_sources: the module defines job_service_principal_ids")


@pytest.fixture
def all_sources(
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    job_service_principal_ids: str,
) -> None:
    """Every source on: provisioning jobs (of ``job_service_principal_ids``), Entra Connect and
    Industry Data runs besides School Data Sync."""
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", job_service_principal_ids)
    monkeypatch.setenv("DIRECTORY_SYNC_ENABLED", "true")
    monkeypatch.setenv("INDUSTRY_DATA_RUNS_ENABLED", "true")
    composition.reload_settings()


@pytest.fixture
def simulated_auth(
    app_settings: dict[str, str], tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GRAPH_AUTH=simulated``: an unsigned Graph token per tenant, naming it (its ``tid``),
    as the simulated Graph reads them; the simulated parent is the home tenant."""
    monkeypatch.setenv("GRAPH_AUTH", "simulated")
    monkeypatch.setenv("HOME_TENANT_ID", tenant.tenant_id)
    composition.reload_settings()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every template rendered, in order (from any thread)."""
    rendered: list[str] = []
    original = Template.render

    def render(self: Template, *args: Any, **kwargs: Any) -> str:
        rendered.append(str(self.name))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Template, "render", render)
    return rendered


@pytest.fixture
def resolve_at_once(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A recovered item resolves its incident at the next review (the damping of a flap is
    shown in tests/unit/test_incidents.py, with simulated time)."""
    monkeypatch.setenv("INCIDENT_RESOLVE_AFTER_MINUTES", "0")
    composition.reload_settings()
