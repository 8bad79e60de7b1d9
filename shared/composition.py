"""The composition root: the one place that builds what the app runs on, the settings (read
once per process), the status store (one per event loop, reusing its connections) and the
Graph client (one per poll, sharing the pacer of Graph's report budget), and hands them to
the functions. Nothing else in the app keeps process-wide state: every other part is given
what it needs.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from shared.core.errors import SettingsError
from shared.settings import Settings
from shared.sources import load_settings
from shared.storage.store import StatusStore

if TYPE_CHECKING:
    from shared.graph.batch import ReportPacer
    from shared.graph.client import GraphClient
    from shared.graph.credentials import TenantCredentials
    from shared.tenants.models import Tenant

_settings: Settings | None = None
# One store per event loop: the SDK's aiohttp session belongs to the loop that created it.
_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Settings, StatusStore]] = (
    weakref.WeakKeyDictionary()
)
_closing: set[asyncio.Task[None]] = set()
# One pacer of Graph's report budget per event loop, shared by its polls.
_report_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReportPacer] = (
    weakref.WeakKeyDictionary()
)
# Per event loop: one Graph credential per tenant (its tokens cached), and one pacer of the
# report budget per tenant (Graph's budget is per tenant).
_credentials: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TenantCredentials] = (
    weakref.WeakKeyDictionary()
)
_tenant_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ReportPacer]] = (
    weakref.WeakKeyDictionary()
)


def settings() -> Settings:
    """The app's settings, read from the environment on first use (SettingsError, naming
    the setting, until they are valid)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def services() -> tuple[Settings, StatusStore]:
    """The settings and the running event loop's store: what an HTTP handler is given."""
    current = settings()
    loop = asyncio.get_running_loop()
    cached = _stores.get(loop)
    if cached is not None:
        if cached[0] == current:
            return cached
        # Settings changed (tests do that): release the old connections.
        _closing.add(closing := loop.create_task(cached[1].close()))
        closing.add_done_callback(_closing.discard)
    store = StatusStore.from_settings(current)
    _stores[loop] = (current, store)
    return current, store


def graph_client(
    current: Settings, *, deadline_seconds: float | None = None, tenant: Tenant | None = None
) -> GraphClient:
    """A Graph client for one poll (it owns the poll's connections and its credential), or
    for one route's request; a poll's stops reading Graph after ``deadline_seconds``. For
    another tenant than the home one, that tenant's (``tenant_graph_client``)."""
    if tenant is not None and not tenant.home:
        return tenant_graph_client(current, tenant, deadline_seconds)
    from shared.graph.batch import ReportPacer
    from shared.graph.client import GraphClient  # the Graph SDK: only the poll needs it

    pacer = _report_pacers.setdefault(asyncio.get_running_loop(), ReportPacer())
    return GraphClient.from_settings(current, report_pacer=pacer, deadline_seconds=deadline_seconds)


def tenant_graph_client(
    current: Settings, tenant: Tenant, deadline_seconds: float | None = None
) -> GraphClient:
    """A Graph client for one tenant's poll, with the tenant's own credential (one per
    tenant and event loop, kept with its tokens) and the tenant's own pacer of Graph's
    report budget. SettingsError when GRAPH_AUTH cannot give that tenant a token."""
    from shared.graph.batch import ReportPacer
    from shared.graph.client import GraphClient
    from shared.graph.credentials import TenantCredentials

    if not tenant.home and current.graph_auth == "none":
        raise SettingsError(
            "GRAPH_AUTH=none sends no token, so Graph cannot tell this tenant from the home "
            "tenant: set GRAPH_AUTH=federated (or simulated, for the simulated tenant)."
        )
    loop = asyncio.get_running_loop()
    credentials = _credentials.setdefault(loop, TenantCredentials())
    credential = credentials.get(current, None if tenant.home else tenant.tenantId)
    pacers = _tenant_pacers.setdefault(loop, {})
    pacer = pacers.setdefault(tenant.tenantId, ReportPacer())
    return GraphClient.from_settings(
        current, report_pacer=pacer, deadline_seconds=deadline_seconds, credential=credential
    )


def reload_settings() -> None:
    """Forget the settings read so far: the next use reads the environment again."""
    global _settings
    _settings = None


async def close() -> None:
    """Close the running event loop's store, if it has one (on shutdown)."""
    loop = asyncio.get_running_loop()
    cached = _stores.pop(loop, None)
    if cached is not None:
        await cached[1].close()
    credentials = _credentials.pop(loop, None)
    if credentials is not None:
        await credentials.close()
