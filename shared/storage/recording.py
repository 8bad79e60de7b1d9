"""The change log: every change of an item's status or health is kept in the history and
queued in the outbox as one event per matching subscriber. Recording the same change again
(after a failure part-way) rewrites its history entry and finds its queued events, through
its event id, instead of adding new ones."""

from __future__ import annotations

from shared.core.changes import ChangeEvent, StatusChange, event_id
from shared.core.subscriptions import static_target
from shared.settings import Settings
from shared.storage.store import StatusStore


async def record_changes(
    store: StatusStore, settings: Settings, changes: list[StatusChange], *, notify: bool = True
) -> None:
    """Keep ``changes`` in the history and queue an event per matching subscriber.

    ``notify=False`` records history only (a source's first poll: every item is new, and a
    subscriber wants to hear of changes, not of the whole tenant at once).
    """
    if not changes:
        return
    event_ids = [event_id(change) for change in changes]
    await store.history.record(changes, event_ids)
    if not notify:
        return
    targets: dict[str, list[ChangeEvent]] = {}
    for subscription in await store.subscriptions.read_all():
        if subscription.status != "active":
            continue
        chosen = [
            ChangeEvent(**change.model_dump(), eventId=eid, subscriptionId=subscription.id)
            for change, eid in zip(changes, event_ids, strict=True)
            if subscription.filter is None or subscription.filter.matches(change)
        ]
        if chosen:
            targets[subscription.id] = chosen
    for url in settings.notify_webhook_urls:
        targets[static_target(url)] = [
            ChangeEvent(**change.model_dump(), eventId=eid)
            for change, eid in zip(changes, event_ids, strict=True)
        ]
    for target, events in targets.items():
        await store.outbox.add(target, events)
