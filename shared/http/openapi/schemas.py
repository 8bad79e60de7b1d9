"""The models of the API's own answers (rows, history, subscriptions, health, errors): they
describe shapes no request validates, for the OpenAPI document only."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.core.changes import StatusChange
from shared.core.health import HealthField
from shared.core.openapi import Int32
from shared.core.subscriptions import Subscription


class StatusRow(BaseModel):
    """One monitored item of any source: is it broken, since when, and why."""

    tenantId: str = Field(description="The tenant the item is in (its id, or home).")
    source: str = Field(description="The source the item comes from.")
    id: str = Field(description="The item's ID (a job's is servicePrincipalId:jobId).")
    displayName: str | None = Field(description="The item's name.")
    status: str | None = Field(
        description="The raw status (a profile's status, a job's status.code, a run's status)."
    )
    health: HealthField = Field(description="healthy, warning, error or unknown.")
    healthSince: str | None = Field(description="When the health last changed.")
    sinceDateTime: str | None = Field(
        description="When the condition behind the current health began: Graph's own time "
        "where Graph says it (a job's quarantine, its last successful cycle for a stalled "
        "job, the last Entra Connect sync, a run's start), else healthSince."
    )
    sinceFrom: Literal["graph", "firstSeen"] = Field(
        description="Whose time sinceDateTime is: graph (Graph's own) or firstSeen (the "
        "app's first sighting of the health, healthSince)."
    )
    lastCheckedDateTime: str | None = Field(description="When the poll last read the item.")
    reason: str | None = Field(description="One sentence saying why the item has its health.")
    pollError: str | None = Field(
        description="The error code while the poll cannot read the item; null otherwise."
    )
    path: str = Field(description="Where the API serves the item itself.")


class StatusList(BaseModel):
    """A page of monitored items."""

    value: list[StatusRow] = Field(description="The items of this page.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


class StatusHistory(BaseModel):
    """A page of an item's changes, newest first."""

    value: list[StatusChange] = Field(description="The changes of this page.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


class SubscriptionList(BaseModel):
    """Every webhook subscription."""

    value: list[Subscription] = Field(description="The subscriptions, oldest first.")


class PollErrorCount(BaseModel):
    """How many items of a poll failed with one error code."""

    code: str = Field(description="The error code.")
    count: Int32 = Field(description="How many items failed with it.")


class SourceError(BaseModel):
    """Why the poll could not list a whole source."""

    status: Int32 | None = Field(default=None, description="Graph's HTTP status, if any.")
    code: str | None = Field(default=None, description="Graph's error code.")
    message: str | None = Field(default=None, description="Graph's error message.")


class LastPoll(BaseModel):
    """The last poll of a source."""

    outcome: Literal["succeeded", "partial", "failed", "unavailable", "retired"] = Field(
        description="succeeded, partial, failed, unavailable or retired (Graph no longer "
        "serves the source; asked again once a day)."
    )
    startedDateTime: str = Field(description="When the poll started.")
    finishedDateTime: str | None = Field(description="When the poll finished.")
    counts: dict[str, Int32] = Field(
        description="Items listed, unchanged, written, removed and failed."
    )
    errors: list[PollErrorCount] = Field(description="Failed items by error code.")
    sourceError: SourceError | None = None
    retiredSince: str | None = Field(
        default=None, description="When Graph was first seen to have retired the source."
    )
    details: dict[str, Any] | None = Field(
        default=None,
        description="What else the source reports of its poll (counts and codes only), such "
        "as a discovery of provisioning jobs or a read of the provisioning logs.",
    )


class SourceHealth(BaseModel):
    """The health of one enabled source."""

    source: str = Field(description="The source.")
    status: Literal["healthy", "degraded", "unavailable", "stale", "notPolledYet", "retired"] = (
        Field(
            description="healthy, degraded, unavailable, stale, notPolledYet or retired (not "
            "counted in the verdict)."
        )
    )
    lastPoll: LastPoll | None = None


class HealthReport(BaseModel):
    """The last poll of each enabled source and an overall verdict (counts and error codes
    only: no tenant data)."""

    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="healthy, degraded or unhealthy."
    )
    checkedDateTime: str = Field(description="When this report was made.")
    storage: Literal["available", "unavailable"] = Field(
        description="Whether Table Storage answered."
    )
    sources: list[SourceHealth] = Field(
        default_factory=list, description="One entry per enabled source."
    )
    configurationError: str | None = Field(
        default=None, description="A missing or invalid app setting, named, when there is one."
    )


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="The error code.")
    message: str = Field(description="What went wrong, and what to do about it.")
    target: str = Field(default="", description="The parameter or property at fault.")


class Error(BaseModel):
    """An error, in Microsoft Graph's shape."""

    error: ErrorDetail
