"""Changes: one change of an item's status or health, as the history keeps it and as an
event carries it to subscribers."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from shared.core.health import HealthField

_EVENT_NAMESPACE = uuid.UUID("2b0c4e0a-5f0e-4d7e-9a7c-6f3f1f1d9c55")


class StatusChange(BaseModel):
    """One change of an item's status or health, as history keeps it and events carry it."""

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


class ChangeEvent(StatusChange):
    """The JSON body POSTed to a subscriber for each change."""

    eventId: str = Field(description="Unique per change; the same on every retry of it.")
    subscriptionId: str | None = Field(
        default=None, description="The subscription it was sent for; null for NOTIFY_WEBHOOK_URLS."
    )


def event_id(change: StatusChange) -> str:
    """The same id for the same change, so recording it again (after a failure part-way)
    rewrites its history entry and finds its queued events instead of adding new ones."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, change.model_dump_json()))


class PendingChange(BaseModel):
    """A change written with the cache entry it describes, waiting to be moved to the history
    and the outbox. ``notify=False`` records it in the history only (a source's first read)."""

    change: StatusChange
    notify: bool = True
