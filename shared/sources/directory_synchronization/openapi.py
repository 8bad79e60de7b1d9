"""How the organization routes and their answers are described in the OpenAPI document (and
so in the Power Automate connector)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from shared.core.openapi import ITEM_KEY, GraphResource, OpenApiPart, operation, path_param, ref


class Organization(GraphResource):
    """The tenant's organization: the directory synchronization (Entra Connect) fields."""

    id: str = Field(description="The tenant's id.")
    displayName: str | None = Field(default=None, description="The organization's name.")
    onPremisesSyncEnabled: bool | None = Field(
        default=None,
        description="true while the directory is synced from on-premises (Entra Connect), "
        "false once it no longer is, null if it never was (a cloud-only tenant).",
    )
    onPremisesLastSyncDateTime: str | None = Field(
        default=None, description="When Entra Connect last synced the directory."
    )
    onPremisesLastPasswordSyncDateTime: str | None = Field(
        default=None,
        description="When password hashes were last synced (Graph has it in beta only).",
    )


class OrganizationWithContext(Organization):
    """The tenant's organization, as Graph sent it."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")


class OrganizationList(BaseModel):
    """The cached organization (a tenant has one)."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[Organization] = Field(description="The organization.")


def _paths() -> dict[str, Any]:
    organization_id = path_param(
        "id", "Organization ID", "The id of the organization (the tenant id).", **ITEM_KEY
    )
    return {
        "/organization": {
            "get": operation(
                "ListOrganization",
                "Get the directory sync status",
                "Gets the cached organization with its Entra Connect sync times "
                "(onPremisesSyncEnabled, onPremisesLastSyncDateTime, "
                "onPremisesLastPasswordSyncDateTime), as Graph sent them (read from beta, the "
                "only version with the last password hash sync).",
                {200: {"description": "The organization.", "schema": ref("OrganizationList")}},
                (StorageUnavailableError,),
            )
        },
        "/organization/{id}": {
            "get": operation(
                "GetOrganization",
                "Get the organization",
                "Gets the cached organization with its Entra Connect sync times.",
                {
                    200: {
                        "description": "The organization.",
                        "schema": ref("OrganizationWithContext"),
                    }
                },
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(organization_id,),
                visibility="advanced",
            )
        },
    }


OPENAPI = OpenApiPart(
    paths=_paths,
    models=(OrganizationList, OrganizationWithContext),
    summaries={
        "onPremisesSyncEnabled": "Directory Sync Enabled",
        "onPremisesLastSyncDateTime": "Last Directory Sync",
        "onPremisesLastPasswordSyncDateTime": "Last Password Hash Sync",
    },
    important=frozenset({"onPremisesLastSyncDateTime"}),
)
