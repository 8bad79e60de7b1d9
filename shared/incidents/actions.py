"""What people do to an incident: acknowledge it (someone is on it: no more reminders),
snooze it (no reminders until then), resolve it by hand (it is handled; its "resolved"
notice goes out as when its item recovers). Each is written on the incident's version
(ETag), read again when a review wrote it meanwhile, and kept in its timeline with who
and why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from shared.core.errors import ConflictError, NotFoundError, VersionConflictError
from shared.core.incidents import Incident, IncidentEntry, snooze_ends
from shared.core.time import utc_now
from shared.core.validation import parse_model
from shared.incidents.review import queue_notice
from shared.settings import Settings
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore

Act = Literal["acknowledge", "snooze", "resolve"]
# Tries of an action that keeps losing to other writers before it gives up (409).
_TRIES = 5
# The longest snooze: a week (a longer quiet is a maintenance window).
MAX_SNOOZE_MINUTES = 7 * 24 * 60


class IncidentActionRequest(BaseModel):
    """The body of ``POST /api/incidents/{id}/acknowledge|snooze|resolve`` (all optional
    but a snooze's ``minutes``)."""

    model_config = ConfigDict(extra="forbid")

    note: StrictStr | None = Field(default=None, max_length=500, description="Why.")
    by: StrictStr | None = Field(
        default=None, max_length=200,
        description="Who, when the caller is not signed in through App Service "
        "Authentication (then the signed-in person is who).",
    )  # fmt: skip
    minutes: int | None = Field(
        default=None, ge=1, le=MAX_SNOOZE_MINUTES,
        description="For a snooze: how long no reminder goes out.",
    )  # fmt: skip


async def act_on_incident(
    settings: Settings, store: StatusStore, incident_id: str, act: Act, body: object, who: str
) -> Incident:
    """Do ``act`` to the store's tenant's incident; the incident as it is after.
    NotFoundError for an id it has not; ConflictError for a resolved one (but resolving it
    again, which changes nothing)."""
    request = parse_model(IncidentActionRequest, body if body is not None else {})
    if act == "snooze" and request.minutes is None:
        request = request.model_copy(update={"minutes": 60})
    by = who if who != "function key" or not request.by else f"{request.by} (function key)"
    key = validate_key(incident_id)
    for _ in range(_TRIES):
        found = await store.incidents.get(key)
        if found is None:
            raise NotFoundError(f"No incident '{incident_id}'.")
        incident, etag = found
        if incident.state == "resolved":
            if act == "resolve":
                return incident
            raise ConflictError(f"Incident '{incident_id}' is resolved: nothing to {act}.")
        changed = _changed(incident, act, request, by, utc_now())
        try:
            await store.incidents.write(changed, etag)
        except VersionConflictError:
            continue  # a review wrote it meanwhile: decide on what it is now
        if act == "resolve" and incident.lastNotifiedDateTime is not None:
            await queue_notice(settings, store, changed, "resolved")
        return changed
    raise ConflictError(f"Incident '{incident_id}' kept changing: try again.")


def _changed(
    incident: Incident, act: Act, request: IncidentActionRequest, by: str, now: str
) -> Incident:
    note = request.note
    if act == "acknowledge":
        entry = IncidentEntry(at=now, kind="acknowledged", by=by, note=note)
        update = {"state": "acknowledged", "acknowledgedDateTime": now, "acknowledgedBy": by}
    elif act == "snooze":
        until = snooze_ends(now, float(request.minutes or 60))
        entry = IncidentEntry(at=now, kind="snoozed", by=by, note=note, until=until)
        update = {"snoozedUntil": until}
    else:
        entry = IncidentEntry(at=now, kind="resolved", by=by, note=note)
        update = {"state": "resolved", "resolvedDateTime": now, "resolvedBy": by}
    return incident.model_copy(update=update).with_entry(entry)
