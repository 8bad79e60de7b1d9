"""How the tenant registry's routes are described in the OpenAPI document (and so in the Power
Automate connector): list and add tenants, get, change and remove one, and its admin-consent
link. They are admin routes (the host's master key), hence advanced in the connector.

Request bodies are described by the models that validate them (``models``); the shapes only
answered are described by the models below."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    StorageUnavailableError,
    VersionConflictError,
)
from shared.core.openapi import Int32, OpenApiPart, operation, param, path_param, ref
from shared.core.principal import ADMIN_ROLE
from shared.sources import SOURCE_NAMES, SOURCES
from shared.tenants.models import Consent, Tenant, TenantChange, TenantRequest


class TenantList(BaseModel):
    """Every tenant the deployment watches."""

    value: list[Tenant] = Field(
        description="The home tenant first, then every tenant added, by display name."
    )


class TenantConsentLink(BaseModel):
    """Where an administrator of the tenant grants the app its permissions."""

    tenantId: str = Field(description="The tenant's ID.")
    consentUrl: str = Field(
        description="Entra's admin-consent URL of the app (GRAPH_APP_CLIENT_ID) in the tenant."
    )
    consent: Consent


class TenantRemovedRows(BaseModel):
    """How many rows went, by kind (without purge, only the tenant's own)."""

    tenants: Int32 = Field(
        description="The tenant's row in the registry: 1, or 0 if another call removed it "
        "meanwhile."
    )
    statuses: Int32 = Field(default=0, description="Cached items (with purge=true only).")
    history: Int32 = Field(default=0, description="History entries (with purge=true only).")
    itemLogs: Int32 = Field(default=0, description="Items' log entries (with purge=true only).")
    state: Int32 = Field(default=0, description="Poll state rows (with purge=true only).")
    keys: Int32 = Field(default=0, description="The tenant's keys (revoked with it).")
    subscriptions: Int32 = Field(
        default=0, description="The tenant's webhook subscriptions (with purge=true only)."
    )
    events: Int32 = Field(
        default=0, description="Its changes' events waiting or kept (with purge=true only)."
    )
    incidents: Int32 = Field(
        default=0, description="Its incidents and maintenance windows (with purge=true only)."
    )


class TenantRemoval(BaseModel):
    """What removing a tenant removed."""

    removed: TenantRemovedRows


_TENANTS = "/tenants"
_TENANT = "/tenants/{tenantId}"
_ADMIN = (
    " An admin route: it takes the host's master key (or, behind App Service "
    f"Authentication, a signed-in user with the app role {ADMIN_ROLE})."
)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "schema": ref("Error")}


# What every admin route may answer besides its own errors.
_REFUSED = {
    401: {
        "description": "The master key is missing or wrong (a function key does not open "
        "admin routes); behind App Service Authentication, not signed in."
    },
    403: _error(f"Behind App Service Authentication: signed in without the {ADMIN_ROLE} role."),
}
_NOT_REGISTERED = {404: _error("The tenant is not registered.")}
_ETAG = {
    "ETag": {
        "type": "string",
        "description": "The version of the tenant, for If-Match.",
        "x-ms-summary": "ETag",
    }
}


def _body(summary: str, description: str, model: str) -> dict[str, Any]:
    return {
        "name": "body", "in": "body", "required": True, "description": description,
        "x-ms-summary": summary, "x-ms-visibility": "important", "schema": ref(model),
    }  # fmt: skip


def _tenant_id() -> dict[str, Any]:
    return path_param(
        "tenantId", "Tenant ID",
        "The tenant's ID (a GUID), or home for the deployment's own tenant.",
    )  # fmt: skip


def _collection() -> dict[str, Any]:
    location = {"type": "string", "description": "The tenant's URL.", "x-ms-summary": "Location"}
    return {
        "get": operation(
            "ListTenants",
            "List the tenants",
            "Lists the tenants the deployment watches: the home tenant first (always there), "
            "then every tenant added, each with its sources and its consent state." + _ADMIN,
            {200: {"description": "The tenants.", "schema": ref("TenantList")}, **_REFUSED},
            (StorageUnavailableError,),
            visibility="advanced",
        ),
        "post": operation(
            "CreateTenant",
            "Add a tenant",
            "Adds a tenant to watch, with the sources polled there and their options (each "
            "source's options are app settings of its own, checked as those are). An admin of "
            "the tenant then consents to the app (GetTenantConsent)." + _ADMIN,
            {
                201: {
                    "description": "Added; the Location is the tenant's URL.",
                    "schema": ref("Tenant"),
                    "headers": {"Location": location},
                },
                **_REFUSED,
                409: _error("The tenant is registered already, or is the home tenant."),
            },
            (InvalidInputError, RequestTooLargeError, ConflictError, StorageUnavailableError),
            parameters=(_body("Tenant", "The tenant to add.", "TenantRequest"),),
            visibility="advanced",
        ),
    }


_UPDATE_ERRORS = (
    InvalidInputError,
    RequestTooLargeError,
    NotFoundError,
    VersionConflictError,
    StorageUnavailableError,
)


def _update() -> dict[str, Any]:
    if_match = param(
        "If-Match", "header", "If-Match",
        "The ETag of the tenant as last read: the change is refused (412) if it changed "
        "since. * or nothing changes whatever version is current.",
    )  # fmt: skip
    changed = {"description": "The tenant as changed.", "schema": ref("Tenant"), "headers": _ETAG}
    stale = _error(
        "The tenant changed since the ETag in If-Match (or while this change was made); read "
        "it again."
    )
    return operation(
        "UpdateTenant",
        "Change a tenant",
        "Changes a tenant's display name, whether it is polled, or its sources: what the body "
        "gives changes, and a source given replaces that source's choice. The home tenant can "
        "be changed too." + _ADMIN,
        {200: changed, **_REFUSED, **_NOT_REGISTERED, 412: stale},
        _UPDATE_ERRORS,
        parameters=(_tenant_id(), if_match, _body("Change", "What to change.", "TenantChange")),
        visibility="advanced",
    )


def _delete() -> dict[str, Any]:
    purge = param(
        "purge", "query", "Purge",
        "Also delete every row the app keeps for the tenant: its cached items, their history "
        "and logs, and its poll state.",
        type="boolean", default=False,
    )  # fmt: skip
    return operation(
        "DeleteTenant",
        "Remove a tenant",
        "Stops watching a tenant (never the home tenant); with purge=true, also deletes every "
        "row the app keeps for it. Answers how many rows went." + _ADMIN,
        {
            200: {"description": "Removed.", "schema": ref("TenantRemoval")},
            **_REFUSED,
            **_NOT_REGISTERED,
            409: _error("The home tenant is the deployment's own: it cannot be removed."),
        },
        (InvalidInputError, NotFoundError, ConflictError, StorageUnavailableError),
        parameters=(_tenant_id(), purge),
        visibility="advanced",
    )


def _paths() -> dict[str, Any]:
    tenant_id = _tenant_id()
    found = {"description": "The tenant.", "schema": ref("Tenant"), "headers": _ETAG}
    get = operation(
        "GetTenant",
        "Get a tenant",
        "Gets a tenant: its sources, their options and its consent state as the last poll "
        "found it. The ETag (absent for the home tenant until it is changed) is for "
        "If-Match." + _ADMIN,
        {200: found, **_REFUSED, **_NOT_REGISTERED},
        (InvalidInputError, NotFoundError, StorageUnavailableError),
        parameters=(tenant_id,),
        visibility="advanced",
    )
    consent = operation(
        "GetTenantConsent",
        "Get a tenant's admin-consent link",
        "Where an administrator of the tenant grants the app (the multi-tenant app of "
        "GRAPH_APP_CLIENT_ID) its permissions, and what the last poll found of its "
        "consent." + _ADMIN,
        {
            200: {"description": "The consent link.", "schema": ref("TenantConsentLink")},
            **_REFUSED,
            **_NOT_REGISTERED,
            409: _error("No multi-tenant app to consent to: GRAPH_APP_CLIENT_ID is not set."),
        },
        (InvalidInputError, NotFoundError, ConflictError, StorageUnavailableError),
        parameters=(tenant_id,),
        visibility="advanced",
    )
    return {
        _TENANTS: _collection(),
        _TENANT: {"get": get, "patch": _update(), "delete": _delete()},
        _TENANT + "/consent": {"get": consent},
    }


def _options_by_source() -> str:
    return "; ".join(
        f"{source.name}: {', '.join(source.tenant_options) or 'none'}" for source in SOURCES
    )


_TENANT_TEXTS = {
    "tenantId": "The tenant's ID (a GUID; home for the home tenant while HOME_TENANT_ID is "
    "not set).",
    "displayName": "The tenant's name, as the registry shows it.",
    "enabled": "Whether the tenant is polled.",
    "sources": "The tenant's own choice of sources, by name "
    f"({', '.join(SOURCE_NAMES)}); a source left out is as the app settings say.",
    "groups": "Entra groups (object IDs) whose signed-in members may see the tenant.",
}
_CHANGE_TEXTS = {
    "displayName": "The tenant's new name.",
    "enabled": "Whether the tenant is polled.",
    "sources": "Sources to choose anew, by name; each given replaces that source's choice, "
    "the others stay.",
    "groups": "The groups whose members may see the tenant (replaces the list).",
}

TENANTS_OPENAPI = OpenApiPart(
    paths=_paths,
    models=(TenantList, Tenant, TenantRequest, TenantChange, TenantConsentLink, TenantRemoval),
    summaries={
        "tenantId": "Tenant ID",
        "consentUrl": "Consent URL",
        "addedDateTime": "Added",
        "home": "Home Tenant",
        "tenants": "Tenants Removed",
    },
    important=frozenset({"tenantId", "consentUrl"}),
    definition_texts={
        "Tenant": "A tenant the deployment watches.",
        "TenantRequest": "A tenant to add.",
        "TenantChange": "What to change of a tenant: what is given changes.",
        "SourceChoice": "One source for one tenant: on or off (null or left out: as the app "
        "settings say), and the source's own app settings for this tenant, laid over the "
        f"app's (by source: {_options_by_source()}).",
        "Consent": "Whether the app may read the tenant, as the last poll found: consented, "
        "consentNeeded (an administrator of the tenant must consent), unavailable (the "
        "tenant or the app's credential failed), or unknown before the first poll.",
    },
    property_texts={
        **{("Tenant", name): text for name, text in _TENANT_TEXTS.items()},
        ("Tenant", "addedDateTime"): "When the tenant was added (the home tenant: first "
        "changed); null until then.",
        ("Tenant", "home"): "Whether this is the deployment's own tenant (never removed).",
        **{("TenantRequest", name): text for name, text in _TENANT_TEXTS.items()},
        ("TenantRequest", "tenantId"): "The tenant's ID (a GUID).",
        ("TenantRequest", "enabled"): "Whether the tenant is polled (default true).",
        **{("TenantChange", name): text for name, text in _CHANGE_TEXTS.items()},
        ("Consent", "state"): "consented, consentNeeded, unavailable or unknown.",
        ("Consent", "code"): "Entra's or Graph's error code, when the poll was refused.",
        ("Consent", "message"): "Entra's or Graph's error message.",
        ("Consent", "changedDateTime"): "When the poll first found this state.",
    },
    property_visibility={("TenantRemovedRows", "state"): "advanced"},
    # PATCH: null is no name and no yes-or-no (sources: null changes none).
    not_null={"TenantChange": frozenset({"displayName", "enabled", "groups"})},
)
