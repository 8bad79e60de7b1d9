"""The change log: every change of an item's status or health is kept in the history and
queued in the outbox as one event per matching subscriber. A change is written first with
the cache entry it describes (``pendingChanges``, see ``statuses``), then moved here and
cleared from its item. Recording the same change again (after a crash part-way) rewrites its
history entry and finds its queued events, through its event id, instead of adding new
ones."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.changes import ChangeEvent, PendingChange
from shared.core.subscriptions import static_target
from shared.settings import Settings
from shared.storage.store import StatusStore


async def record_changes(
    store: StatusStore, settings: Settings, pending: list[PendingChange]
) -> None:
    """Keep changes in the history and queue an event per matching subscriber of those to
    send (``notify``: not those of a source's first poll, where every item is new and a
    subscriber wants to hear of changes, not of the whole tenant at once)."""
    if not pending:
        return
    # Each change says whose it is (its id, made before, does not depend on it).
    tenant_id = store.scope.tenant_id
    pending = [
        p.model_copy(update={"change": p.change.model_copy(update={"tenantId": tenant_id})})
        for p in pending
    ]
    await store.history.record([p.change for p in pending], [p.eventId for p in pending])
    to_send = [p for p in pending if p.notify]
    if not to_send:
        return
    targets: dict[str, list[ChangeEvent]] = {}
    for subscription in await store.subscriptions.read_all():
        if subscription.status != "active":
            continue
        chosen = [
            ChangeEvent(**p.change.model_dump(), eventId=p.eventId, subscriptionId=subscription.id)
            for p in to_send
            if subscription.receives(p.change)
        ]
        if chosen:
            targets[subscription.id] = chosen
    for url in settings.notify_webhook_urls:
        targets[static_target(url)] = [
            ChangeEvent(**p.change.model_dump(), eventId=p.eventId) for p in to_send
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
    # How many items marked removed were deleted.
    removed: int
    # The version each item is at once its changes were cleared.
    etags: dict[str, str]


async def flush_pending(
    store: StatusStore, settings: Settings, source: str, entries: list[JournalEntry]
) -> FlushOutcome:
    """Move items' pending changes to the history and the outbox, then clear them (or delete
    the items marked removed); say how many were deleted, and the versions left.

    Idempotent: a change recorded again (after a crash part-way, or by two writers) rewrites
    its history entry and finds its queued events, so it is never recorded or sent twice.
    Raises what recording raises: the changes then stay pending on their items.
    """
    pending = [entry for item in entries for entry in item.pending]
    await record_changes(store, settings, pending)
    cleared = await store.statuses.clear_pending(
        source, {item.item_id: item.etag for item in entries if item.pending and not item.removed}
    )
    removed = await store.statuses.delete_removed(
        source, {item.item_id: item.etag for item in entries if item.removed}
    )
    return FlushOutcome(removed=removed, etags=cleared)
