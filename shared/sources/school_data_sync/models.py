"""The models of School Data Sync (classic): a listed profile and its profileStatus as Graph
sends them, and the validation of what a PATCH may change.

Graph's JSON is kept as sent: timestamps stay strings (Graph sends 7 fractional digits,
Python's datetime keeps 6), ``status`` stays a string (an evolvable enum may gain members),
and properties this code does not know yet are carried along untouched.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from shared.core.errors import InvalidInputError
from shared.core.jsontext import INT64_MAX
from shared.core.time import Timestamp
from shared.core.validation import error_target, error_text, require_object

PROFILE_STATUS_ODATA_TYPE = "#microsoft.graph.educationSynchronizationProfileStatus"

# The six properties of educationSynchronizationProfileStatus, in the order Graph documents them.
PROFILE_STATUS_PROPERTIES = (
    "id",
    "status",
    "lastSynchronizationDateTime",
    "lastActivityDateTime",
    "errorCount",
    "statusMessage",
)


class EducationSynchronizationStatus(StrEnum):
    """The nine documented members. Graph may add more: cached values are plain strings."""

    PAUSED = "paused"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    ERROR = "error"
    VALIDATION_ERROR = "validationError"
    QUARANTINED = "quarantined"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"
    # Sent only to callers that ask with `Prefer: include-unknown-enum-members`.
    EXTRACTING = "extracting"
    VALIDATING = "validating"


class EducationSynchronizationProfile(BaseModel):
    """The part of a listed profile the app caches; everything else Graph sends is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr = Field(min_length=1)
    displayName: StrictStr | None = None
    state: StrictStr | None = None


class EducationSynchronizationProfileStatus(BaseModel):
    """A profileStatus as Graph sends it, checked only for the types the cache relies on.

    ``extra="allow"`` keeps properties Graph may add later; ``status`` accepts any string so
    a member added to the evolvable enum after this code was written is kept as sent.
    """

    model_config = ConfigDict(extra="allow")

    id: StrictStr | None = None
    # Required: a status without one (`{}`, say) is not a good value to replace the cache.
    status: StrictStr
    lastSynchronizationDateTime: StrictStr | None = None
    lastActivityDateTime: StrictStr | None = None
    errorCount: StrictInt | None = Field(default=None, ge=0, le=INT64_MAX)
    statusMessage: StrictStr | None = None


class ProfileStatusPatch(BaseModel):
    """The body of ``PATCH .../profileStatus``: only the writable properties, strictly typed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    odata_type: Literal["#microsoft.graph.educationSynchronizationProfileStatus"] | None = Field(
        default=None, alias="@odata.type"
    )
    id: StrictStr | None = None
    status: EducationSynchronizationStatus | None = None
    statusMessage: StrictStr | None = None
    errorCount: StrictInt | None = Field(default=None, ge=0, le=INT64_MAX)
    lastActivityDateTime: Timestamp | None = None
    lastSynchronizationDateTime: Timestamp | None = None

    def changes(self) -> dict[str, Any]:
        """The status properties the caller sent, with their values (None means null)."""
        sent = self.model_dump(include=self.model_fields_set - {"odata_type", "id"})
        if "status" in sent and sent["status"] is not None:
            sent["status"] = str(sent["status"])
        return sent


# Properties a PATCH may not set to null: a status always has a status and a count, and id
# and @odata.type, if sent, must name this status.
NOT_NULLABLE = ("status", "errorCount", "id", "@odata.type")


def parse_profile_status_patch(body: Any, profile_id: str) -> ProfileStatusPatch:
    """Validate a PATCH body; raise InvalidInputError naming the offending property."""
    body = require_object(body)
    for name in NOT_NULLABLE:
        if name in body and body[name] is None:
            raise InvalidInputError(f"Property '{name}' cannot be null.", target=name)
    try:
        patch = ProfileStatusPatch.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInputError(_describe(first), target=error_target(first)) from None
    if patch.id is not None and patch.id != profile_id:
        raise InvalidInputError(
            f"Property 'id' ({patch.id!r}) does not match the profile in the path "
            f"({profile_id!r}).",
            target="id",
        )
    return patch


def _describe(error: Any) -> str:
    """One sentence a flow maker can act on, from pydantic's first error."""
    name = error_target(error)
    kind = error["type"]
    if kind == "extra_forbidden":
        writable = "status, statusMessage, errorCount, lastActivityDateTime, "
        writable += "lastSynchronizationDateTime"
        return f"Property '{name}' is not writable. Writable properties: {writable}."
    if name == "status" and kind == "enum":
        members = ", ".join(member.value for member in EducationSynchronizationStatus)
        return f"Property 'status' must be one of: {members}; got {error['input']!r}."
    if name == "@odata.type":
        return f"Property '@odata.type' must be '{PROFILE_STATUS_ODATA_TYPE}'."
    if name == "errorCount":
        return f"Property 'errorCount' must be a whole number from 0 to {INT64_MAX}."
    message = error_text(error)
    return f"Property '{name}' {message}." if kind == "value_error" else f"'{name}': {message}."
