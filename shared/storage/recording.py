"""The change log: every change of an item's status or health is kept in the history and
queued in the outbox as one event per matching subscriber. A change is written first with
the cache entry it describes (``pendingChanges``, see ``statuses``), then moved here and
cleared from its item. Recording the same change again (after a crash part-way) rewrites its
history entry and finds its queued events, through its event id, instead of adding new
ones."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.changes import ChangeEvent, PendingChange, StatusChange, event_id
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


@dataclass
class JournalEntry:
    """An item whose pending changes are to be recorded: its version (to clear them, or to
    delete it, only if nobody wrote it since), its changes, and whether it is on its way out."""

    item_id: str
    etag: str
    pending: list[PendingChange]
    removed: bool = False


@dataclass
class FlushOutcome:
    recorded: int
    removed: int
    # The version each item is at once its changes were cleared.
    etags: dict[str, str]


async def flush_pending(
    store: StatusStore, settings: Settings, source: str, entries: list[JournalEntry]
) -> FlushOutcome:
    """Move items' pending changes to the history and the outbox, then clear them (or delete
    the items marked removed); say how many changes were recorded and items deleted.

    Idempotent: a change recorded again (after a crash part-way, or by two writers) rewrites
    its history entry and finds its queued events, so it is never recorded or sent twice.
    Raises what recording raises: the changes then stay pending on their items.
    """
    pending = [entry for item in entries for entry in item.pending]
    await record_changes(store, settings, [p.change for p in pending if not p.notify], notify=False)
    await record_changes(store, settings, [p.change for p in pending if p.notify])
    cleared = await store.statuses.clear_pending(
        source, {item.item_id: item.etag for item in entries if item.pending and not item.removed}
    )
    removed = await store.statuses.delete_removed(
        source, {item.item_id: item.etag for item in entries if item.removed}
    )
    return FlushOutcome(recorded=len(pending), removed=removed, etags=cleared)
