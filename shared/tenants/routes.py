"""The registry's routes, under ``/api``: ``tenants`` (list, add) and ``tenants/{tenantId}``
(get, change, remove; ``?purge=true`` removes every row the app keeps for it), and the
tenant's admin-consent link. They are admin routes: the host's master key, or, behind App
Service Authentication, the SyncStatus.Admin app role (``shared/http/serving``)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from shared.core.api import ApiCall, Reply
from shared.core.errors import ConflictError, InvalidInputError
from shared.graph.credentials import admin_consent_url
from shared.sources.base import Operation, Services
from shared.tenants.access import keys_of, make_key, revoke_key
from shared.tenants.models import Tenant
from shared.tenants.registry import (
    add_tenant,
    change_tenant,
    every_tenant,
    remove_tenant,
    tenant_named,
)

TENANTS_ROUTE = "tenants"
TENANT_ROUTE = "tenants/{tenantId}"
KEYS_ROUTE = TENANT_ROUTE + "/keys"


def tenant_operations() -> tuple[Operation, ...]:
    return (
        Operation("list_tenants", TENANTS_ROUTE, "GET", list_tenants, admin=True),
        Operation("create_tenant", TENANTS_ROUTE, "POST", create_tenant, admin=True),
        Operation("get_tenant", TENANT_ROUTE, "GET", get_tenant, admin=True),
        Operation("update_tenant", TENANT_ROUTE, "PATCH", update_tenant, admin=True),
        Operation("delete_tenant", TENANT_ROUTE, "DELETE", delete_tenant, admin=True),
        Operation(
            "get_tenant_consent", TENANT_ROUTE + "/consent", "GET", get_tenant_consent, admin=True
        ),
        Operation("create_tenant_key", KEYS_ROUTE, "POST", create_tenant_key, admin=True),
        Operation("list_tenant_keys", KEYS_ROUTE, "GET", list_tenant_keys, admin=True),
        Operation(
            "delete_tenant_key", KEYS_ROUTE + "/{keyId}", "DELETE", delete_tenant_key, admin=True
        ),
    )


def answer(tenant: Tenant) -> dict[str, object]:
    return tenant.model_dump(mode="json")


async def list_tenants(call: ApiCall, services: Services) -> Reply:
    """``GET /api/tenants``: the home tenant first, then every tenant added."""
    tenants = await every_tenant(services.settings, services.store)
    return Reply({"value": [answer(tenant) for tenant in tenants]})


async def create_tenant(call: ApiCall, services: Services) -> Reply:
    """``POST /api/tenants``: 201 with the tenant and its Location."""
    tenant = await add_tenant(services.settings, services.store, call.json_body())
    scheme, netloc, *_rest = urlsplit(call.url)
    location = urlunsplit((scheme, netloc, f"/api/tenants/{tenant.tenantId}", "", ""))
    return Reply(answer(tenant), location=location)


async def get_tenant(call: ApiCall, services: Services) -> Reply:
    tenant, etag = await tenant_named(
        services.settings, services.store, call.route.get("tenantId", "")
    )
    return Reply(answer(tenant), etag=etag)


async def update_tenant(call: ApiCall, services: Services) -> Reply:
    """``PATCH /api/tenants/{tenantId}`` (``If-Match`` makes it conditional)."""
    tenant, etag = await change_tenant(
        services.settings, services.store, call.route.get("tenantId", ""),
        call.json_body(), call.header("If-Match"),
    )  # fmt: skip
    return Reply(answer(tenant), etag=etag)


async def delete_tenant(call: ApiCall, services: Services) -> Reply:
    """``DELETE /api/tenants/{tenantId}[?purge=true]``: 200 with how many rows went."""
    purge = call.query.get("purge", "false").strip().lower()
    if purge not in ("true", "false"):
        raise InvalidInputError("purge is true or false.", target="purge")
    counts = await remove_tenant(
        services.settings, services.store, call.route.get("tenantId", ""), purge=purge == "true"
    )
    return Reply({"removed": counts})


async def get_tenant_consent(call: ApiCall, services: Services) -> Reply:
    """``GET /api/tenants/{tenantId}/consent``: where an admin of the tenant consents to the
    app (the multi-tenant app of GRAPH_APP_CLIENT_ID), and what the last poll found."""
    settings = services.settings
    tenant, _etag = await tenant_named(settings, services.store, call.route.get("tenantId", ""))
    if settings.graph_app_client_id is None:
        raise ConflictError(
            "No multi-tenant app to consent to: set GRAPH_AUTH=federated and "
            "GRAPH_APP_CLIENT_ID (the app registration whose federated credential is the "
            "app's managed identity)."
        )
    url = admin_consent_url(settings.graph_app_client_id, tenant.tenantId, None)
    return Reply({"tenantId": tenant.tenantId, "consentUrl": url,
                  "consent": tenant.consent.model_dump(mode="json")})  # fmt: skip


async def create_tenant_key(call: ApiCall, services: Services) -> Reply:
    """``POST /api/tenants/{tenantId}/keys`` with ``{"name"}``: 201 with the new key, shown
    this once (only its digest is kept). It opens that tenant's routes and nothing else."""
    tenant, _etag = await tenant_named(
        services.settings, services.store, call.route.get("tenantId", "")
    )
    body = call.json_body() if call.body.strip() else {}
    name = body.get("name", "") if isinstance(body, dict) else None
    if not isinstance(name, str) or len(name) > 128 or set(body) - {"name"}:
        raise InvalidInputError('Send {"name": "..."} (at most 128 characters).', target="name")
    made = await make_key(services.store, tenant, name)
    scheme, netloc, *_rest = urlsplit(call.url)
    path = f"/api/tenants/{tenant.tenantId}/keys/{made['id']}"
    return Reply(made, location=urlunsplit((scheme, netloc, path, "", "")))


async def list_tenant_keys(call: ApiCall, services: Services) -> Reply:
    """``GET /api/tenants/{tenantId}/keys``: the tenant's keys (never the keys themselves)."""
    tenant, _etag = await tenant_named(
        services.settings, services.store, call.route.get("tenantId", "")
    )
    return Reply({"value": await keys_of(services.store, tenant)})


async def delete_tenant_key(call: ApiCall, services: Services) -> Reply:
    """``DELETE /api/tenants/{tenantId}/keys/{keyId}``: the key opens nothing from now on."""
    tenant, _etag = await tenant_named(
        services.settings, services.store, call.route.get("tenantId", "")
    )
    await revoke_key(services.store, tenant, call.route.get("keyId", ""))
    return Reply()
