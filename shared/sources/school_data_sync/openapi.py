"""How the School Data Sync routes and their answers are described in the OpenAPI document
(and so in the Power Automate connector)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import (
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    StorageUnavailableError,
    VersionConflictError,
)
from shared.core.openapi import (
    ETAG,
    IF_MATCH,
    ITEM_KEY,
    SKIPTOKEN,
    TOP,
    OpenApiPart,
    operation,
    param,
    path_param,
    ref,
)
from shared.sources.school_data_sync.models import (
    NOT_NULLABLE,
    EducationSynchronizationProfileStatus,
    ProfileStatusPatch,
)


class ProfileStatus(EducationSynchronizationProfileStatus):
    """The educationSynchronizationProfileStatus of a School Data Sync profile, as Graph sent
    it (or as a PATCH changed it)."""

    odata_context: str = Field(
        alias="@odata.context", description="The OData context URL of the resource."
    )


class ListedProfileStatus(EducationSynchronizationProfileStatus):
    """The educationSynchronizationProfileStatus of a listed profile, as Graph sent it."""


class SynchronizationProfile(BaseModel):
    """A cached School Data Sync profile with its status."""

    id: str = Field(description="The profile's ID.")
    displayName: str | None = Field(description="The profile's name.")
    state: str | None = Field(description="The profile's state (provisioned, deleting, ...).")
    profileStatus: ListedProfileStatus


class SynchronizationProfileList(BaseModel):
    """A page of cached School Data Sync profiles."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[SynchronizationProfile] = Field(description="The profiles of this page.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


_PROFILE_ID = path_param("id", "Profile ID", "The ID of the School Data Sync profile.", **ITEM_KEY)


def _paths() -> dict[str, Any]:
    status_filter = param(
        "status",
        "query",
        "Statuses",
        "Only profiles whose status is one of these, comma-separated "
        "(for example error,quarantined,validationError).",
        visibility="important",
    )
    page = {"description": "A page of profiles.", "schema": ref("SynchronizationProfileList")}
    listing = operation(
        "ListSynchronizationProfiles",
        "List School Data Sync profiles",
        "Lists the cached School Data Sync profiles, each with its profileStatus, in Graph's "
        "shape; a page at a time.",
        {200: page},
        (InvalidInputError, StorageUnavailableError),
        parameters=(status_filter, TOP, SKIPTOKEN),
    )
    return {
        "/education/synchronizationProfiles": {"get": listing},
        "/education/synchronizationProfiles/{id}/profileStatus": _status_operations(),
    }


def _status_operations() -> dict[str, Any]:
    status = {"description": "The status.", "schema": ref("ProfileStatus"), "headers": ETAG}
    changes = {
        "name": "body",
        "in": "body",
        "required": True,
        "description": "The properties to change.",
        "x-ms-summary": "Changes",
        "x-ms-visibility": "important",
        "schema": ref("ProfileStatusPatch"),
    }
    patch_errors = (
        InvalidInputError,
        NotFoundError,
        VersionConflictError,
        RequestTooLargeError,
        StorageUnavailableError,
    )
    return {
        "get": operation(
            "GetProfileStatus",
            "Get the status of a School Data Sync profile",
            "Gets the cached educationSynchronizationProfileStatus of a profile exactly as "
            "Graph sent it, with its ETag.",
            {200: status},
            (InvalidInputError, NotFoundError, StorageUnavailableError),
            parameters=(_PROFILE_ID,),
        ),
        "patch": operation(
            "UpdateProfileStatus",
            "Update the status of a School Data Sync profile",
            "Changes the cached status of a profile (not Graph's): it stays until Graph's "
            "status changes. With If-Match, only if nobody changed it since.",
            {200: status | {"description": "The whole updated status."}},
            patch_errors,
            parameters=(_PROFILE_ID, IF_MATCH, changes),
            visibility="advanced",
        ),
    }


_STATUS_TEXTS = {
    "id": "The profile's ID.",
    "status": "paused, inProgress, success, error, validationError, quarantined, extracting "
    "or validating (or a newer value).",
    "lastSynchronizationDateTime": "When the profile last synchronized.",
    "lastActivityDateTime": "When the profile last had activity.",
    "errorCount": "How many errors the profile has.",
    "statusMessage": "Graph's message about the status.",
}
_TIMESTAMP_TEXT = "ISO 8601 with an offset or Z, up to 7 fractional digits; or null."

OPENAPI = OpenApiPart(
    paths=_paths,
    models=(ProfileStatusPatch, ProfileStatus, SynchronizationProfileList),
    important=frozenset(
        {"statusMessage", "errorCount", "lastSynchronizationDateTime", "profileStatus", "state"}
    ),
    definition_texts={
        "ProfileStatusPatch": "The properties of a profileStatus to change. Writable: status, "
        "statusMessage, errorCount, lastActivityDateTime, lastSynchronizationDateTime.",
    },
    property_texts={
        ("ProfileStatusPatch", "@odata.type"): "If sent, "
        "#microsoft.graph.educationSynchronizationProfileStatus.",
        ("ProfileStatusPatch", "id"): "If sent, the profile ID of the path.",
        ("ProfileStatusPatch", "status"): "The new status.",
        ("ProfileStatusPatch", "statusMessage"): "The new status message; null clears it.",
        ("ProfileStatusPatch", "errorCount"): "The new error count, a whole number.",
        ("ProfileStatusPatch", "lastActivityDateTime"): _TIMESTAMP_TEXT,
        ("ProfileStatusPatch", "lastSynchronizationDateTime"): _TIMESTAMP_TEXT,
        **{("ProfileStatus", name): text for name, text in _STATUS_TEXTS.items()},
        **{("ListedProfileStatus", name): text for name, text in _STATUS_TEXTS.items()},
    },
    property_visibility={("ProfileStatusPatch", "id"): "internal"},
    not_null={"ProfileStatusPatch": frozenset(NOT_NULLABLE)},
)
