"""Incidents: one per problem, not one message per change. An item that turns warning or error
opens an incident once its condition has held long enough; while it stays unhealthy the
incident is updated (its health, its reason), reminded of while nobody acknowledged it, and
resolved once the item has been healthy long enough (or is gone). Notifications are the
incident's events (opened, reminder, resolved), never one per change.

The models here and the decision (``review_item``) need no I/O: the incidents layer
(``shared.incidents``) reads the items and the incidents and carries the decision out.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from shared.core.changes import ChangeEvent
from shared.core.health import Health, HealthField
from shared.core.time import graph_timestamp, parse_timestamp

_INCIDENT_NAMESPACE = uuid.UUID("6f1d8a52-3c4b-4e0f-9a1e-2d7c5b8e9f01")

IncidentState = Literal["open", "acknowledged", "resolved"]
EntryKind = Literal["opened", "updated", "acknowledged", "snoozed", "reminded", "resolved"]
NoticeKind = Literal["opened", "reminder", "resolved"]
UNHEALTHY = (Health.WARNING, Health.ERROR)
# The newest timeline entries an incident keeps (a long flap updates it often).
MAX_TIMELINE = 50
# How long incidents are kept once resolved.
INCIDENTS_KEPT = timedelta(days=90)


class IncidentEntry(BaseModel):
    """One step of an incident's life: when, what, by whom and why."""

    at: str = Field(description="When it happened.")
    kind: EntryKind
    health: HealthField | None = Field(default=None, description="The item's health then.")
    reason: str | None = Field(default=None, description="The item's reason then.")
    by: str | None = Field(default=None, description="Who (acknowledged, snoozed, resolved).")
    note: str | None = Field(default=None, description="Why, as they said it.")
    until: str | None = Field(default=None, description="A snooze's end.")


class Incident(BaseModel):
    """A problem with one item, from when it opened to when it resolved."""

    id: str = Field(description="The incident's id (stable: the same problem, the same id).")
    tenantId: str | None = None
    source: str
    itemId: str
    displayName: str | None = None
    path: str = Field(description="Where the API serves the item.")
    state: IncidentState
    health: HealthField = Field(description="The item's worst health while it was open.")
    currentHealth: HealthField = Field(description="The item's health at the last review.")
    reason: str | None = Field(default=None, description="The item's reason at the last review.")
    sinceDateTime: str = Field(description="When the item turned unhealthy.")
    openedDateTime: str
    updatedDateTime: str
    acknowledgedDateTime: str | None = None
    acknowledgedBy: str | None = None
    snoozedUntil: str | None = None
    resolvedDateTime: str | None = None
    resolvedBy: str | None = Field(
        default=None, description="Who resolved it by hand; null when the item recovered."
    )
    lastNotifiedDateTime: str | None = None
    reminders: int = 0
    timeline: list[IncidentEntry] = Field(default_factory=list)

    def with_entry(self, entry: IncidentEntry) -> Incident:
        timeline = [*self.timeline, entry][-MAX_TIMELINE:]
        return self.model_copy(update={"timeline": timeline, "updatedDateTime": entry.at})


class IncidentEvent(BaseModel):
    """The JSON body POSTed to a subscriber for an incident's notice."""

    kind: Literal["incident"] = "incident"
    eventId: str = Field(description="Unique per notice; the same on every retry of it.")
    event: NoticeKind = Field(description="opened, reminder or resolved.")
    incident: Incident
    tenantId: str | None = None
    changedDateTime: str = Field(description="When the notice was made.")
    subscriptionId: str | None = None
    reviewId: str | None = Field(
        default=None,
        description="The review (after one tenant's poll) that made the notice: notices of one "
        "poll share it. Null for a notice made by hand (an incident resolved through the API).",
    )  # fmt: skip


class IncidentGroupEvent(BaseModel):
    """The JSON body POSTed, instead of each notice, to a subscription with ``groupIncidents``
    when one tenant's poll made several notices: all of them, in the outbox's order.
    Never kept in the outbox (delivery groups the notices waiting there)."""

    kind: Literal["incidentGroup"] = "incidentGroup"
    eventId: str = Field(description="Unique per group; the same on every retry of it.")
    reviewId: str = Field(description="The review (one tenant's poll) that made these notices.")
    tenantId: str | None = None
    changedDateTime: str = Field(description="When the first notice was made.")
    subscriptionId: str | None = None
    notices: list[IncidentEvent] = Field(description="The poll's notices, two or more.")


def group_notices(notices: list[IncidentEvent]) -> IncidentGroupEvent:
    """One message for the notices of one review (``notices``: two or more, in order), its
    id fixed by theirs, so a retry of the same group is the same event."""
    first = notices[0]
    assert first.reviewId is not None
    members = ",".join(notice.eventId for notice in notices)
    return IncidentGroupEvent(
        eventId=str(uuid.uuid5(_INCIDENT_NAMESPACE, f"group/{members}")), reviewId=first.reviewId,
        tenantId=first.tenantId, changedDateTime=first.changedDateTime,
        subscriptionId=first.subscriptionId, notices=notices,
    )  # fmt: skip


def review_id(tenant_id: str | None, now: str) -> str:
    """The id of the review of one tenant made at ``now``."""
    return str(uuid.uuid5(_INCIDENT_NAMESPACE, f"review/{tenant_id or ''}/{now}"))


# What the outbox holds for a receiver: a change (or action) event, or an incident's notice.
OutboxEvent = Annotated[ChangeEvent | IncidentEvent, Field(discriminator="kind")]
_OUTBOX_EVENT: TypeAdapter[ChangeEvent | IncidentEvent] = TypeAdapter(OutboxEvent)


def parse_outbox_event(text: str) -> ChangeEvent | IncidentEvent:
    """An event as the outbox keeps it (a change's event written before incidents has no
    ``kind``: a change)."""
    document = json.loads(text or "{}")
    if isinstance(document, dict):
        document.setdefault("kind", "change")
    return _OUTBOX_EVENT.validate_python(document)


@dataclass(frozen=True)
class IncidentRules:
    """How long a condition holds before an incident opens (per health), how long an item
    stays healthy before it resolves, and how often an open one is reminded of (0: never)."""

    open_after_error_minutes: float
    open_after_warning_minutes: float
    resolve_after_minutes: float
    remind_every_hours: float

    def open_after(self, health: str) -> timedelta:
        minutes = (
            self.open_after_warning_minutes if health == Health.WARNING
            else self.open_after_error_minutes
        )  # fmt: skip
        return timedelta(minutes=minutes)


@dataclass(frozen=True)
class ItemView:
    """What a review sees of an item: its health now and since when, and why."""

    source: str
    item_id: str
    health: str
    health_since: str
    reason: str | None
    display_name: str | None
    path: str


@dataclass(frozen=True)
class Decision:
    """What a review does: the incident to write (None: nothing changes), and the notice to
    send of it (None: none)."""

    incident: Incident | None
    notice: NoticeKind | None = None


def incident_id(tenant_id: str | None, source: str, item_id: str, since: str) -> str:
    """The same id for the same problem: a review made again (after a crash part-way) finds
    the incident it opened, and its notice's event id, instead of opening another."""
    name = f"{tenant_id or ''}|{source}|{item_id}|{since}"
    return str(uuid.uuid5(_INCIDENT_NAMESPACE, name))


def notice_id(incident: Incident, notice: NoticeKind) -> str:
    """The event id of a notice: one per incident and kind (per reminder, its number)."""
    count = incident.reminders if notice == "reminder" else 0
    return str(uuid.uuid5(_INCIDENT_NAMESPACE, f"{incident.id}|{notice}|{count}"))


def review_item(
    item: ItemView | None,
    incident: Incident | None,
    *,
    tenant_id: str | None,
    now: str,
    rules: IncidentRules,
    muted: bool,
) -> Decision:
    """Decide on one item and its open incident (either may be missing: an item never
    unhealthy has none; an incident's item may be gone). ``muted``: a maintenance window
    holds its opening and reminder notices (the incident still opens and resolves); a
    snooze (``snoozedUntil``) and an acknowledgement hold its reminders."""
    if incident is None:
        return _maybe_open(item, tenant_id=tenant_id, now=now, rules=rules, muted=muted)
    if item is None:
        return _resolve(incident, now, reason="The item is gone.")
    if item.health in UNHEALTHY:
        return _still_open(item, incident, now=now, rules=rules, muted=muted)
    healthy_for = parse_timestamp(now) - parse_timestamp(item.health_since or now)
    if item.health == Health.HEALTHY and healthy_for >= timedelta(
        minutes=rules.resolve_after_minutes
    ):
        return _resolve(incident, now, reason=item.reason)
    return Decision(None)  # healthy not long enough yet (or unknown): it stays open


def _maybe_open(
    item: ItemView | None, *, tenant_id: str | None, now: str, rules: IncidentRules, muted: bool
) -> Decision:
    if item is None or item.health not in UNHEALTHY:
        return Decision(None)
    since = item.health_since or now
    if parse_timestamp(now) - parse_timestamp(since) < rules.open_after(item.health):
        return Decision(None)  # not held long enough: a flap is not an incident
    opened = Incident(
        id=incident_id(tenant_id, item.source, item.item_id, since), tenantId=tenant_id,
        source=item.source, itemId=item.item_id, displayName=item.display_name,
        path=item.path, state="open", health=item.health, currentHealth=item.health,  # type: ignore[arg-type]
        reason=item.reason, sinceDateTime=since, openedDateTime=now, updatedDateTime=now,
        lastNotifiedDateTime=None if muted else now,
    )  # fmt: skip
    opened = opened.with_entry(
        IncidentEntry(at=now, kind="opened", health=item.health, reason=item.reason)  # type: ignore[arg-type]
    )
    return Decision(opened, None if muted else "opened")


def _still_open(
    item: ItemView, incident: Incident, *, now: str, rules: IncidentRules, muted: bool
) -> Decision:
    changed = (item.health, item.reason) != (incident.currentHealth, incident.reason)
    worst = Health.ERROR if Health.ERROR in (item.health, incident.health) else incident.health
    updated = incident
    if changed:
        updated = incident.model_copy(
            # model_copy does not validate: the health as the model holds it, not its text.
            update={"currentHealth": Health(item.health), "reason": item.reason, "health": worst,
                    "displayName": item.display_name or incident.displayName},
        ).with_entry(
            IncidentEntry(at=now, kind="updated", health=item.health, reason=item.reason)  # type: ignore[arg-type]
        )  # fmt: skip
    if not muted and updated.lastNotifiedDateTime is None:
        # Opened during a maintenance window that has ended, and still there: announced now.
        announced = updated.model_copy(update={"lastNotifiedDateTime": now})
        return Decision(announced, "opened")
    if _reminder_due(updated, now, rules, muted):
        reminded = updated.model_copy(
            update={"reminders": updated.reminders + 1, "lastNotifiedDateTime": now}
        ).with_entry(IncidentEntry(at=now, kind="reminded"))
        return Decision(reminded, "reminder")
    return Decision(updated if changed else None)


def _reminder_due(incident: Incident, now: str, rules: IncidentRules, muted: bool) -> bool:
    if muted or incident.state != "open" or rules.remind_every_hours <= 0:
        return False
    if incident.snoozedUntil and incident.snoozedUntil > now:
        return False
    last = incident.lastNotifiedDateTime or incident.openedDateTime
    return parse_timestamp(now) - parse_timestamp(last) >= timedelta(hours=rules.remind_every_hours)


def _resolve(incident: Incident, now: str, *, reason: str | None) -> Decision:
    resolved = incident.model_copy(
        update={"state": "resolved", "resolvedDateTime": now, "currentHealth": Health.HEALTHY,
                "reason": reason or incident.reason},
    ).with_entry(IncidentEntry(at=now, kind="resolved", reason=reason))  # fmt: skip
    # Its end is announced whenever its start was (a maintenance window since then included:
    # whoever heard of it hears it is over); one never announced ends quietly.
    announced = incident.lastNotifiedDateTime is not None
    return Decision(resolved, "resolved" if announced else None)


def snooze_ends(now: str, minutes: float) -> str:
    return graph_timestamp(parse_timestamp(now) + timedelta(minutes=minutes))


# A window with no end (a job paused through the app: until it is started again).
OPEN_ENDED = "9999-12-31T23:59:59Z"


class MaintenanceWindow(BaseModel):
    """A time in which no incident of what it covers notifies: a tenant's every item, one
    source's, or one item's."""

    id: str
    tenantId: str | None = None
    source: str | None = Field(default=None, description="Only this source's items.")
    itemId: str | None = Field(default=None, description="Only this item (with its source).")
    startDateTime: str
    endDateTime: str = Field(description=f"When it ends ({OPEN_ENDED}: when ended by hand).")
    reason: str
    createdBy: str
    createdDateTime: str

    def covers(self, source: str, item_id: str, now: str) -> bool:
        return (
            self.startDateTime <= now < self.endDateTime
            and (self.source is None or self.source == source)
            and (self.itemId is None or self.itemId == item_id)
        )
