"""Changes: one change of an item's status or health, as the history keeps it and as an
event carries it to subscribers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from shared.core.health import HealthField

_EVENT_NAMESPACE = uuid.UUID("2b0c4e0a-5f0e-4d7e-9a7c-6f3f1f1d9c55")

# An event not delivered within this long is dropped: a receiver that stays away does not
# make its queue grow without end.
MAX_EVENT_AGE = timedelta(days=3)
# A delivered event stays as a marker at least this long, so a change recorded again (after a
# crash) is never queued again: longer than any event may wait, with room to spare.
DELIVERED_MARKERS_KEPT = MAX_EVENT_AGE + timedelta(days=4)


class ActionTaken(BaseModel):
    """What was done to an item through the API (a job restarted, say), by whom, and what
    Graph answered: the accountability of an action."""

    name: str = Field(description="The action: restart, pause or start.")
    by: str = Field(
        description="Who asked: the signed-in principal where the platform gives it, else "
        "'function key'."
    )
    criteria: dict[str, Any] | None = Field(
        default=None, description="What the action was asked to do (a restart's criteria)."
    )
    clientRequestId: str = Field(description="The x-ms-client-request-id sent to Graph.")
    graphStatus: int | None = Field(
        default=None, description="Graph's HTTP status (204: done); null when it did not answer."
    )
    graphError: dict[str, Any] | None = Field(
        default=None, description="Graph's error (code and message) when it refused or failed."
    )


class StatusChange(BaseModel):
    """One change of an item's status or health, or an action taken on it, as history keeps
    it and events carry it."""

    kind: Literal["change", "action"] = Field(
        default="change",
        description="change: the item's status or health changed; action: an action was "
        "taken on it through the API (see action).",
    )
    source: str
    id: str
    displayName: str | None = None
    previousStatus: str | None = Field(description="The raw status before; null when new.")
    status: str | None = Field(description="The raw status now; null when the item is gone.")
    previousHealth: HealthField | None = None
    health: HealthField
    changedDateTime: str = Field(description="When the poll (or a PATCH) saw the change.")
    reason: str | None = Field(default=None, description="One sentence saying why.")
    path: str = Field(description="Where the API serves the item.")
    action: ActionTaken | None = Field(default=None, description="The action, for kind action.")
    tenantId: str | None = Field(
        default=None, description="The tenant the item is in (set as the change is recorded)."
    )


class ChangeEvent(StatusChange):
    """The JSON body POSTed to a subscriber for each change."""

    eventId: str = Field(description="Unique per change; the same on every retry of it.")
    subscriptionId: str | None = Field(
        default=None, description="The subscription it was sent for; null for NOTIFY_WEBHOOK_URLS."
    )


def event_id(change: StatusChange) -> str:
    """The same id for the same change, so recording it again (after a failure part-way)
    rewrites its history entry and finds its queued events instead of adding new ones. A
    plain change is fingerprinted without ``kind`` and ``action``, as before they existed."""
    plain = change.kind == "change" and change.action is None
    return str(
        uuid.uuid5(
            _EVENT_NAMESPACE,
            change.model_dump_json(
                exclude={"kind", "action", "tenantId"} if plain else {"tenantId"}
            ),
        )
    )


class PendingChange(BaseModel):
    """A change written with the cache entry it describes, waiting to be moved to the history
    and the outbox. ``notify=False`` records it in the history only (a source's first read).

    Its event id is fixed when it is written, so recording it again later (after a crash,
    by another release) finds the same history entry and the same queued events.
    """

    change: StatusChange
    notify: bool = True
    eventId: str = ""

    @model_validator(mode="after")
    def _fix_event_id(self) -> PendingChange:
        if not self.eventId:
            self.eventId = event_id(self.change)
        return self
