"""Every route of today under ``/api/tenants/{tenantId}/...``, with the same shapes: the
handler is the same, given the tenant's settings (the app's, with the tenant's choices),
its rows (``StatusStore.for_tenant``) and, for job actions, a Graph client with its token.
``home`` and the home tenant's id name the home tenant, whose rows today's routes serve."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from shared.core.api import ApiCall, Reply
from shared.core.principal import PRINCIPAL_HEADER, principal_claims
from shared.settings import Settings
from shared.sources.base import Handler, Operation, Services
from shared.storage.store import StatusStore
from shared.tenants.access import Caller, check_access
from shared.tenants.choices import tenant_settings
from shared.tenants.models import Tenant
from shared.tenants.registry import scope_of, tenant_named

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

TENANT_PREFIX = "tenants/{tenantId}/"


class TenantGraphs(Protocol):
    """What makes a tenant's Graph client (the serving layer's services)."""

    def tenant_graph(self, settings: Settings, tenant: Any) -> GraphClient: ...


class TenantServices:
    """What a handler is given, for one tenant."""

    def __init__(
        self, settings: Settings, store: StatusStore, tenant: Tenant, graphs: TenantGraphs
    ) -> None:
        self.tenant = tenant
        self._settings = tenant_settings(settings, tenant)
        self._store = store.for_tenant(scope_of(tenant))
        self._graphs = graphs

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def store(self) -> StatusStore:
        return self._store

    def graph(self) -> GraphClient:
        return self._graphs.tenant_graph(self._settings, self.tenant)

    @property
    def tenant_id(self) -> str | None:
        return self.tenant.tenantId


def tenant_scoped(
    operations: Iterable[Operation], handlers: dict[str, Handler] | None = None
) -> tuple[Operation, ...]:
    """Each operation again under ``tenants/{tenantId}/``, named ``tenant_{name}`` (with
    the handler ``handlers`` names for it, where a tenant's answer differs)."""
    handlers = handlers or {}
    return tuple(
        Operation(
            f"tenant_{operation.name}",
            TENANT_PREFIX + operation.route,
            operation.method,
            _for_tenant(handlers.get(operation.name, operation.handler)),
            checked_by_app=True,
        )
        for operation in operations
        if not operation.admin and not operation.anonymous
    )


def _for_tenant(handler: Handler) -> Handler:
    async def scoped(call: ApiCall, services: Services) -> Reply:
        settings, store = services.settings, services.store
        tenant, _etag = await tenant_named(settings, store, call.route.get("tenantId", ""))
        await check_access(store, tenant, caller_of(call, settings))
        graphs: Any = services  # the serving layer's services make a tenant's Graph client
        # The key is the caller's credential, not a parameter of the route.
        query = {name: value for name, value in call.query.items() if name != "code"}
        plain = dataclasses.replace(call, query=query)
        return await handler(plain, TenantServices(settings, store, tenant, graphs))

    return scoped


def caller_of(call: ApiCall, settings: Settings) -> Caller:
    """The key a call presents (header, else ``?code=``), and the platform's principal when
    it signs people in (only then is the header the platform's)."""
    key = call.header("x-functions-key") or call.query.get("code") or None
    claims = principal_claims(call.header(PRINCIPAL_HEADER)) if settings.platform_sign_in else None
    return Caller(key, claims)
