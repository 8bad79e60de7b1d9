"""The tenants the deployment watches: the home tenant (its own, from HOME_TENANT_ID; it is
always there, stored only once changed, and never removed) and those added through
``/api/tenants``. Adding, changing and removing them, each checked; removing one can purge
every row the app keeps for it."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from shared.core.errors import (
    ConflictError,
    NotFoundError,
    VersionConflictError,
)
from shared.core.tenancy import HOME_ALIAS, TenantScope, home_scope
from shared.core.time import utc_now
from shared.core.validation import parse_model
from shared.settings import Settings
from shared.storage.store import StatusStore
from shared.tenants.choices import check_choices
from shared.tenants.models import (
    Consent,
    PollFailure,
    Tenant,
    TenantChange,
    TenantRequest,
    group_ids_of,
    tenant_id_of,
)

HOME_DISPLAY_NAME = "Home tenant"


def scope_of(tenant: Tenant) -> TenantScope:
    return TenantScope(tenant.tenantId, home=tenant.home)


def home_tenant(settings: Settings) -> Tenant:
    """The home tenant as the app settings make it (before anyone changed it)."""
    scope = home_scope(settings.home_tenant_id)
    return Tenant(tenantId=scope.tenant_id, displayName=HOME_DISPLAY_NAME, home=True,
                  consent=Consent(state="unknown"))  # fmt: skip


def is_home_id(settings: Settings, tenant_id: str) -> bool:
    return tenant_id in (HOME_ALIAS, home_scope(settings.home_tenant_id).tenant_id)


async def every_tenant(settings: Settings, store: StatusStore) -> list[Tenant]:
    """The home tenant first, then every tenant added, by display name."""
    home = home_tenant(settings)
    others = []
    for document, _etag in await store.tenants.read_all():
        tenant = Tenant.model_validate(document)
        if tenant.tenantId == home.tenantId:
            home = tenant.model_copy(update={"home": True})
        else:
            others.append(tenant.model_copy(update={"home": False}))
    others.sort(key=lambda tenant: (tenant.displayName.casefold(), tenant.tenantId))
    return [home, *others]


async def tenant_named(
    settings: Settings, store: StatusStore, raw_id: str
) -> tuple[Tenant, str | None]:
    """The tenant and its ETag (None: the home tenant, not stored); ``home`` names the home
    tenant. InvalidInputError for an id that is no GUID, NotFoundError for one not added."""
    home = home_tenant(settings)
    tenant_id = home.tenantId if raw_id.strip().lower() == HOME_ALIAS else tenant_id_of(raw_id)
    stored = await store.tenants.get(tenant_id)
    if stored is not None:
        document, etag = stored
        tenant = Tenant.model_validate(document)
        return tenant.model_copy(update={"home": tenant_id == home.tenantId}), etag
    if tenant_id == home.tenantId:
        return home, None
    raise NotFoundError(
        f"The tenant '{tenant_id}' is not registered: add it with POST /api/tenants."
    )


async def add_tenant(settings: Settings, store: StatusStore, body: Any) -> Tenant:
    """A tenant added from a ``POST /api/tenants`` body (ConflictError: added already)."""
    request: TenantRequest = parse_model(TenantRequest, body)
    tenant_id = tenant_id_of(request.tenantId)
    if is_home_id(settings, tenant_id):
        raise ConflictError(f"'{tenant_id}' is the home tenant: it is watched already.")
    check_choices(settings, request.sources)
    tenant = Tenant(
        tenantId=tenant_id, displayName=request.displayName, enabled=request.enabled,
        sources=request.sources, addedDateTime=utc_now(), groups=group_ids_of(request.groups),
    )  # fmt: skip
    await store.tenants.create(tenant_id, tenant.model_dump(mode="json"))
    return tenant


async def change_tenant(
    settings: Settings, store: StatusStore, raw_id: str, body: Any, if_match: str | None
) -> tuple[Tenant, str]:
    """The tenant with a ``PATCH`` body applied (over ``if_match``'s version when given)."""
    change: TenantChange = parse_model(TenantChange, body)
    tenant, etag = await tenant_named(settings, store, raw_id)
    if change.sources is not None:
        check_choices(settings, change.sources)
    given = change.model_dump(exclude_unset=True, exclude={"sources"})
    if change.groups is not None:
        given["groups"] = group_ids_of(change.groups)
    sources = {**tenant.sources, **(change.sources or {})}
    changed = tenant.model_copy(update={**given, "sources": sources})
    if changed.home and changed.addedDateTime is None:
        changed.addedDateTime = utc_now()
    expected = None if if_match in (None, "*") else if_match
    if etag is None and expected is not None:  # the home tenant, never changed: no version
        raise VersionConflictError("The tenant has no such version (If-Match).")
    # Without If-Match, still over the version just read: a change meanwhile is a 412.
    new_etag = await store.tenants.save(changed.tenantId, _stored(changed), etag=expected or etag)
    return changed, new_etag


async def remove_tenant(
    settings: Settings, store: StatusStore, raw_id: str, *, purge: bool
) -> dict[str, int]:
    """Remove a tenant (not the home one: ConflictError) and, with ``purge``, every row the
    app keeps for it; how many rows went, by kind."""
    tenant, _etag = await tenant_named(settings, store, raw_id)
    if tenant.home:
        raise ConflictError("The home tenant is the deployment's own: it cannot be removed.")
    counts = {
        "tenants": int(await store.tenants.delete(tenant.tenantId)),
        "keys": await store.tenant_keys.purge(tenant.tenantId),  # its keys open nothing now
    }
    if purge:
        counts |= await store.for_tenant(scope_of(tenant)).purge()
    return counts


async def record_consent(store: StatusStore, tenant: Tenant, consent: Consent) -> None:
    """Keep what a poll found of the tenant's consent, when it differs from what is kept (a
    tenant removed meanwhile stays removed; a PATCH meanwhile wins, the next poll tells)."""
    if (tenant.consent.state, tenant.consent.code) == (consent.state, consent.code):
        return
    await _keep(store, tenant, {"consent": consent})


async def record_poll_failure(
    store: StatusStore, tenant: Tenant, failure: PollFailure | None
) -> None:
    """Keep that the tenant's poll failed on every try of a round (None: a poll ended, and
    any failure kept is cleared)."""
    if failure is None and tenant.pollFailure is None:
        return
    await _keep(store, tenant, {"pollFailure": failure})


async def _keep(store: StatusStore, tenant: Tenant, update: dict[str, Any]) -> None:
    """Write what a poll found over the tenant as stored now (see ``record_consent``)."""
    stored = await store.tenants.get(tenant.tenantId)
    if stored is None and not tenant.home:
        return
    current = Tenant.model_validate(stored[0]) if stored else tenant
    updated = current.model_copy(update=update)
    with suppress(VersionConflictError, NotFoundError):
        await store.tenants.save(
            tenant.tenantId, _stored(updated), etag=stored[1] if stored else None
        )


def _stored(tenant: Tenant) -> dict[str, Any]:
    return tenant.model_dump(mode="json", exclude={"home"})
