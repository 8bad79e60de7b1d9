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
    from shared.graph.batch import LocalReportPacer, RequestPacer
    from shared.graph.client import GraphClient
    from shared.graph.credentials import TenantCredentials
    from shared.storage.queues import QueueService
    from shared.tenants.models import Tenant

_settings: Settings | None = None
# One store per event loop: the SDK's aiohttp session belongs to the loop that created it.
_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Settings, StatusStore]] = (
    weakref.WeakKeyDictionary()
)
_closing: set[asyncio.Task[None]] = set()
# One queue client per event loop, like the store.
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Settings, QueueService]] = (
    weakref.WeakKeyDictionary()
)
# Per event loop: the pacers of Graph's report budget, one per tenant, shared with every
# instance through Table Storage (on the loop's store: rebuilt with it).
_report_pacers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[StatusStore, dict[str, RequestPacer]]
] = weakref.WeakKeyDictionary()
# Per event loop: one Graph credential per tenant (its tokens cached), and one in-process
# pacer of the report budget per tenant: what the shared one falls back on while Table
# Storage is unavailable (and the only one when no storage is configured).
_credentials: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TenantCredentials] = (
    weakref.WeakKeyDictionary()
)
_tenant_pacers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, LocalReportPacer]
] = weakref.WeakKeyDictionary()


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
    from shared.graph.client import GraphClient  # the Graph SDK: only the poll needs it

    pacer = report_pacer(current.home_tenant_id or "home")
    return GraphClient.from_settings(current, report_pacer=pacer, deadline_seconds=deadline_seconds)


def tenant_graph_client(
    current: Settings, tenant: Tenant, deadline_seconds: float | None = None
) -> GraphClient:
    """A Graph client for one tenant's poll, with the tenant's own credential (one per
    tenant and event loop, kept with its tokens) and the tenant's own pacer of Graph's
    report budget. SettingsError when GRAPH_AUTH cannot give that tenant a token."""
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
    key = (current.home_tenant_id or "home") if tenant.home else tenant.tenantId
    pacer = report_pacer(key)
    return GraphClient.from_settings(
        current, report_pacer=pacer, deadline_seconds=deadline_seconds, credential=credential
    )


def report_pacer(tenant_key: str) -> RequestPacer:
    """The pacer of Graph's report budget for one tenant (its tenant id; the home tenant's
    is HOME_TENANT_ID, or "home"): shared with every instance through the running event
    loop's store, falling back on an in-process one while Table Storage is unavailable."""
    from shared.graph.batch import LocalReportPacer

    loop = asyncio.get_running_loop()
    local = _tenant_pacers.setdefault(loop, {}).setdefault(tenant_key, LocalReportPacer())
    try:
        _, store = services()
    except SettingsError:
        return local  # no storage to share the budget through: this process's alone
    cached = _report_pacers.get(loop)
    if cached is None or cached[0] is not store:
        cached = _report_pacers[loop] = (store, {})
    pacers = cached[1]
    if tenant_key not in pacers:
        pacers[tenant_key] = store.report_budget.pacer(tenant_key, fallback=local)
    return pacers[tenant_key]


def queues() -> QueueService:
    """The running event loop's queues (the round's messages), for the settings in force."""
    current = settings()
    loop = asyncio.get_running_loop()
    cached = _queues.get(loop)
    if cached is not None and cached[0] == current:
        return cached[1]
    if cached is not None:
        _closing.add(closing := loop.create_task(cached[1].close()))
        closing.add_done_callback(_closing.discard)
    from shared.storage.queues import QueueService  # the queue SDK: only the round needs it

    service = QueueService.from_settings(current)
    _queues[loop] = (current, service)
    return service


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
    queued = _queues.pop(loop, None)
    if queued is not None:
        await queued[1].close()
