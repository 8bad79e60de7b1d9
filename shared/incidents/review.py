"""The review after a tenant's poll: each item of its enabled sources and each of its
incidents not resolved yet, decided on (``core.incidents.review_item``) and carried out: an
incident opened, updated, reminded of or resolved, and its notice queued for the receivers
that asked for incidents.

Crash-safe as the poll is: a notice is queued before its incident is written, under an event
id fixed by the incident's id (itself fixed by the problem), so a review made again after a
crash finds the queued notice instead of sending another, and a write that lost to another
writer (an acknowledgement) is decided again at the next poll.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from shared.core.errors import VersionConflictError
from shared.core.incidents import (
    UNHEALTHY,
    Decision,
    Incident,
    IncidentEvent,
    ItemView,
    notice_id,
    review_id,
    review_item,
)
from shared.core.time import utc_now
from shared.settings import Settings
from shared.sources import source_named
from shared.storage.items import StoredItem
from shared.storage.store import StatusStore

logger = logging.getLogger(__name__)


@dataclass
class ReviewReport:
    """What a review did: incidents by what happened to them, notices queued."""

    changed: Counter[str] = field(default_factory=Counter)
    notices: int = 0


async def review_incidents(
    settings: Settings, store: StatusStore, *, now: str | None = None
) -> ReviewReport:
    """Review the store's tenant's items and incidents (``settings``: the tenant's own)."""
    now = now or utc_now()
    report = ReviewReport()
    sources = [source_named(name) for name in settings.enabled_sources]
    # Each source's summary parts too: its items' names may live there (School Data Sync's).
    parts = tuple(dict.fromkeys(part for source in sources for part in source.summary_parts))
    items = {
        (item.source, item.id): item
        for item in await store.statuses.summaries([s.name for s in sources], parts=parts)
    }
    unresolved = {
        (incident.source, incident.itemId): (incident, etag)
        for incident, etag in await store.incidents.unresolved()
    }
    windows = await store.maintenance.not_over(now)
    review = review_id(store.scope.tenant_id, now)
    watched = {key for key, item in items.items() if item.health in UNHEALTHY}
    for key in sorted(watched | set(unresolved)):
        incident, etag = unresolved.get(key, (None, None))
        item = items.get(key)
        decision = review_item(
            _view(item) if item is not None else None, incident,
            tenant_id=store.scope.tenant_id, now=now, rules=settings.incident_rules,
            muted=any(window.covers(key[0], key[1], now) for window in windows),
        )  # fmt: skip
        if decision.incident is not None:
            await _carry_out(settings, store, decision, etag, report, review)
    if report.changed:
        logger.info("Incidents: %s; %d notice(s)", dict(report.changed), report.notices)
    return report


def _view(item: StoredItem) -> ItemView:
    source = source_named(item.source)
    return ItemView(
        source=item.source, item_id=item.id, health=item.health or "unknown",
        health_since=item.health_since or "", reason=item.reason,
        display_name=source.display_name_of(item), path=source.item_path(item.id),
    )  # fmt: skip


async def _carry_out(
    settings: Settings, store: StatusStore, decision: Decision, etag: str | None,
    report: ReviewReport, review: str,
) -> None:  # fmt: skip
    incident = decision.incident
    assert incident is not None
    if etag is None and await store.incidents.get(incident.id) is not None:
        return  # this very problem was resolved by hand: not opened again until it recurs
    if decision.notice is not None:
        report.notices += await queue_notice(
            settings, store, incident, decision.notice, review=review
        )
    try:
        await store.incidents.write(incident, etag)
    except VersionConflictError:
        logger.info("Incident %s changed meanwhile: reviewed again next poll", incident.id)
        return
    report.changed[decision.notice or incident.state] += 1


async def queue_notice(
    settings: Settings, store: StatusStore, incident: Incident, notice: str, *,
    review: str | None = None,
) -> int:  # fmt: skip
    """Queue an incident's notice for each receiver that asked for incidents (active
    subscriptions whose ``filter.kinds`` names ``incident``; NOTIFY_WEBHOOK_URLS receive
    changes, as before incidents); how many targets. ``review``: the review that made it
    (delivery groups a review's notices for the receivers that asked)."""
    event_id = notice_id(incident, notice)  # type: ignore[arg-type]
    targets = 0
    for subscription in await store.subscriptions.read_all():
        active = subscription.status == "active"
        if not active or not subscription.receives_incident(incident, notice):
            continue
        event = IncidentEvent(
            eventId=event_id, event=notice, incident=incident,  # type: ignore[arg-type]
            tenantId=incident.tenantId, changedDateTime=incident.updatedDateTime,
            subscriptionId=subscription.id, reviewId=review,
        )  # fmt: skip
        await store.outbox.add(subscription.id, [event])
        targets += 1
    return targets
