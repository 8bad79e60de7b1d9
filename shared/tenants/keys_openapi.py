"""How a tenant's keys are described in the OpenAPI document: make one (shown once), list
them, revoke one. Admin routes, like the registry's (``openapi``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from shared.core.openapi import OpenApiPart, operation, path_param, ref
from shared.core.principal import ADMIN_ROLE


class TenantKeyRequest(BaseModel):
    """The key to make."""

    name: str = Field(default="", max_length=128, description="What the key is for.")


class TenantKey(BaseModel):
    """One key of a tenant: it opens that tenant's routes and nothing else."""

    id: str = Field(description="The key's ID (for revoking it).")
    tenantId: str = Field(description="The tenant it opens.")
    name: str = Field(description="What the key is for.")
    createdDateTime: str = Field(description="When it was made.")
    key: str | None = Field(
        default=None, description="The key itself: in the answer that makes it, and never again."
    )


class TenantKeyList(BaseModel):
    """A tenant's keys (without the keys)."""

    value: list[TenantKey] = Field(description="The keys, oldest first.")


_ADMIN = (
    " An admin route: the host's master key (or, behind App Service Authentication, the "
    f"app role {ADMIN_ROLE})."
)
_REFUSED = {
    401: {"description": "The master key is missing or wrong."},
    403: {"description": f"Signed in without the {ADMIN_ROLE} role.", "schema": ref("Error")},
    404: {"description": "The tenant (or the key) is not there.", "schema": ref("Error")},
}


def _tenant_id() -> dict[str, Any]:
    return path_param("tenantId", "Tenant ID", "The tenant's ID (a GUID), or home.")


def _paths() -> dict[str, Any]:
    body = {
        "name": "body", "in": "body", "required": False, "description": "The key's name.",
        "x-ms-summary": "Key", "x-ms-visibility": "important", "schema": ref("TenantKeyRequest"),
    }  # fmt: skip
    location = {"type": "string", "description": "The key's URL.", "x-ms-summary": "Location"}
    errors = (InvalidInputError, NotFoundError, StorageUnavailableError)
    create = operation(
        "CreateTenantKey", "Make a key of a tenant",
        "Makes a key that opens the tenant's routes (/tenants/{tenantId}/...) and nothing "
        "else, for the tenant's own flow; the answer shows it once, the app keeps only its "
        "digest." + _ADMIN,
        {201: {"description": "Made.", "schema": ref("TenantKey"),
               "headers": {"Location": location}}, **_REFUSED},
        errors, parameters=(_tenant_id(), body), visibility="advanced",
    )  # fmt: skip
    listed = operation(
        "ListTenantKeys", "List a tenant's keys",
        "Lists the tenant's keys (their IDs and names, never the keys)." + _ADMIN,
        {200: {"description": "The keys.", "schema": ref("TenantKeyList")}, **_REFUSED},
        errors, parameters=(_tenant_id(),), visibility="advanced",
    )  # fmt: skip
    revoked = operation(
        "DeleteTenantKey", "Revoke a key of a tenant",
        "Revokes a key: it opens nothing from now on." + _ADMIN,
        {204: {"description": "Revoked."}, **_REFUSED},
        errors,
        parameters=(_tenant_id(), path_param("keyId", "Key ID", "The key's ID.")),
        visibility="advanced",
    )  # fmt: skip
    keys = "/tenants/{tenantId}/keys"
    return {keys: {"post": create, "get": listed}, keys + "/{keyId}": {"delete": revoked}}


TENANT_KEYS_OPENAPI = OpenApiPart(
    paths=_paths,
    models=(TenantKeyRequest, TenantKey, TenantKeyList),
    summaries={"keyId": "Key ID"},
    important=frozenset({"key"}),
)
