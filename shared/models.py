"""Models of the Graph resources the app caches, and the validation of what callers send.

Graph's JSON is kept as sent: timestamps stay strings (Graph sends 7 fractional digits,
Python's datetime keeps 6), ``status`` stays a string (an evolvable enum may gain members),
and properties this code does not know yet are carried along untouched.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from shared.errors import bad_request

INT64_MAX = 2**63 - 1

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


ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_timestamp(value: str) -> datetime:
    """Check an ISO 8601 timestamp with an offset or ``Z`` (up to 7 fractional digits, as
    Graph writes them) and return it as an aware datetime (cut to microseconds)."""
    if not ISO_8601.fullmatch(value):
        raise ValueError("must be an ISO 8601 date and time with an offset or Z")
    head, dot, rest = value.partition(".")
    if dot:  # datetime keeps 6 fractional digits; the 7th only matters to the string kept.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"is not a valid date and time ({error})") from None


def parse_json(data: bytes) -> Any:
    """JSON from Graph or a caller. Python's json also reads NaN and Infinity, which are not
    JSON and could not be served back as JSON: those are a ValueError here."""
    return json.loads(data, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def graph_timestamp(moment: datetime) -> str:
    """A UTC time as Graph writes timestamps (ISO 8601, 7 fractional digits, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def utc_now() -> str:
    """Now, as Graph writes timestamps."""
    return graph_timestamp(datetime.now(UTC))


def _timestamp(value: str) -> str:
    parse_timestamp(value)
    return value  # kept exactly as sent


Timestamp = Annotated[StrictStr, AfterValidator(_timestamp)]


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


class SynchronizationJob(BaseModel):
    """An Entra ID provisioning job (Graph v1.0), checked only for what the cache relies on:
    an id, and a ``status`` that is an object when present. The JSON itself is kept whole.

    msgraph-sdk's typed ``SynchronizationJob`` is not used to read it: its parse cuts
    timestamps to microseconds and turns enum members it does not know into None.
    """

    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1)
    templateId: StrictStr | None = None
    status: dict[str, Any] | None = None


class IndustryDataRun(BaseModel):
    """An Industry Data run (Graph beta), checked for what the cache relies on."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1)
    displayName: StrictStr | None = None
    status: StrictStr | None = None
    startDateTime: StrictStr | None = None
    endDateTime: StrictStr | None = None


def newest_first_key(start_date_time: Any, item_id: str) -> tuple[datetime, str]:
    """Sort key that puts the latest start first with ``reverse=True``: timestamps are
    compared as times (Graph varies the fractional digits, so text order is not time
    order); a missing or bad one sorts last."""
    earliest = datetime.min.replace(tzinfo=UTC)
    if isinstance(start_date_time, str):
        try:
            return parse_timestamp(start_date_time), item_id
        except ValueError:
            pass
    return earliest, item_id


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
    """Validate a PATCH body; raise a 400 ApiError that names the offending property."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for name in NOT_NULLABLE:
        if name in body and body[name] is None:
            raise bad_request(f"Property '{name}' cannot be null.", target=name)
    try:
        patch = ProfileStatusPatch.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        raise bad_request(_describe(first), target=_location(first)) from None
    if patch.id is not None and patch.id != profile_id:
        raise bad_request(
            f"Property 'id' ({patch.id!r}) does not match the profile in the path "
            f"({profile_id!r}).",
            target="id",
        )
    return patch


def _location(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "body"


def _describe(error: Any) -> str:
    """One sentence a flow maker can act on, from pydantic's first error."""
    name = _location(error)
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
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"Property '{name}' {message}." if kind == "value_error" else f"'{name}': {message}."


# -- change history and notifications ---------------------------------------------------------

Health = Literal["healthy", "warning", "error", "unknown"]
SourceName = Literal["educationSynchronizationProfiles", "synchronizationJobs", "industryDataRuns"]


class StatusChange(BaseModel):
    """One change of an item's status or health, as history keeps it and events carry it."""

    source: SourceName
    id: str
    displayName: str | None = None
    previousStatus: str | None = Field(description="The raw status before; null when new.")
    status: str | None = Field(description="The raw status now; null when the item is gone.")
    previousHealth: Health | None = None
    health: Health
    changedDateTime: str = Field(description="When the poll (or a PATCH) saw the change.")
    reason: str | None = Field(default=None, description="One sentence saying why.")
    path: str = Field(description="Where the API serves the item.")


# A job's id (and RowKey) joins its service principal and its own id; an object id holds no
# colon.
JOB_KEY_SEPARATOR = ":"


def item_path(source: str, item_id: str) -> str:
    """Where the API serves an item of a source (the ``path`` of rows, changes and events)."""
    if source == "educationSynchronizationProfiles":
        return f"/api/education/synchronizationProfiles/{quote(item_id, safe='')}/profileStatus"
    if source == "synchronizationJobs":
        sp_id, _separator, job_id = item_id.partition(JOB_KEY_SEPARATOR)
        return f"/api/servicePrincipals/{sp_id}/synchronization/jobs/{quote(job_id, safe='')}"
    return f"/api/external/industryData/runs/{quote(item_id, safe='')}"


class ChangeEvent(StatusChange):
    """The JSON body POSTed to a subscriber for each change."""

    eventId: str = Field(description="Unique per change; the same on every retry of it.")
    subscriptionId: str | None = Field(
        default=None, description="The subscription it was sent for; null for NOTIFY_WEBHOOK_URLS."
    )


class SubscriptionFilter(BaseModel):
    """Which changes a subscription receives; each list left out (or empty) matches all."""

    model_config = ConfigDict(extra="forbid")

    health: list[Health] | None = Field(default=None, max_length=4)
    sources: list[SourceName] | None = Field(default=None, max_length=3)
    ids: list[Annotated[StrictStr, Field(min_length=1, max_length=512)]] | None = Field(
        default=None, max_length=100
    )

    def matches(self, change: StatusChange) -> bool:
        return (
            (not self.health or change.health in self.health)
            and (not self.sources or change.source in self.sources)
            and (not self.ids or change.id in self.ids)
        )


class SubscriptionRequest(BaseModel):
    """The body of ``POST /api/subscriptions``: where to POST events, and which ones."""

    model_config = ConfigDict(extra="forbid")

    notificationUrl: StrictStr = Field(
        min_length=1, max_length=2048, description="The URL each change is POSTed to."
    )
    filter: SubscriptionFilter | None = None


class Subscription(BaseModel):
    """A webhook subscription as the API answers it."""

    id: str
    notificationUrl: str
    filter: SubscriptionFilter | None = None
    status: Literal["active", "disabled"]
    createdDateTime: str
    disabledReason: str | None = None


def parse_subscription_request(body: Any) -> SubscriptionRequest:
    """Validate a subscribe body; raise a 400 ApiError naming the offending property."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        return SubscriptionRequest.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        name = _location(first)
        if first["type"] == "extra_forbidden":
            message = f"Property '{name}' is not allowed. Allowed: notificationUrl, filter."
        else:
            message = f"'{name}': {str(first['msg']).removeprefix('Value error, ')}."
        raise bad_request(message, target=name) from None
