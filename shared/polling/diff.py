"""What a poll writes, decided from what Graph sent and what the cache held, with no I/O, so
every rule can be tested on its own. It decides on typed items (``storage.items``): what
Graph sent (a source's entry), the item as cached, its health and pending changes; how they
become columns is storage's business.

Rules:
- an item is rewritten only when what Graph sends differs from what it sent at the previous
  poll (a fingerprint is kept), so a poll that finds nothing new writes nothing and a PATCH
  made in between survives until Graph changes it; the summary (health and why, the
  listing's fields, a cleared poll error) is merged alone when only it is stale;
- an item the poll could not read keeps its last good value and is marked with the error;
- an item is removed only when a complete listing no longer has it: first marked removed,
  then deleted once its removal is recorded;
- a write that changes an item's status or health carries that change, stamped after the
  cache was read, in the same write (its pending changes): the change and the cache entry land
  together or not at all, and each change follows the one before it on the same item;
- an item read from Graph again after the poll began (an action's read-back) is left as it
  is: the poll's own read may be the older one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.core.changes import PendingChange, StatusChange
from shared.sources.base import (
    CacheEntry,
    ItemSummary,
    Observation,
    Source,
    date_health,
    health_dates,
)
from shared.storage.items import (
    CacheWrite,
    ItemUpdate,
    StoredItem,
    create_write,
    merge_write,
    replace_write,
)
from shared.storage.pending import change_time
from shared.storage.poll_runs import PollRun
from shared.storage.recording import JournalEntry
from shared.storage.statuses import WriteOutcome

logger = logging.getLogger(__name__)


@dataclass
class PollPlan:
    """The writes that bring the cache up to what Graph sent."""

    writes: list[CacheWrite] = field(default_factory=list)
    unchanged: int = 0
    # Items not read (or not cacheable), by id or placeholder, with an error code.
    failures: dict[str, str] = field(default_factory=dict)
    # Whether the source was read whole and every item of it can be cached.
    complete: bool = False
    # Items whose write marks them removed.
    removals: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PollStamp:
    """The times a poll writes: when it started (``lastCheckedDateTime``, ``healthSince``)
    and when it decided its writes, after reading the cache (each change's time)."""

    started: str
    decided: str
    # False on a source's first read: every item is new, recorded without events.
    notify: bool = True


def plan_writes(
    source: Source,
    seen: Observation,
    cached: Mapping[str, StoredItem],
    previous: PollRun | None,
    stamp: PollStamp,
) -> PollPlan:
    """The cache writes for what a poll saw of one source (see the module's rules)."""
    plan = PollPlan(failures=dict(seen.failures))
    entries = dict(seen.entries)
    for item_id, entry in seen.entries.items():
        try:
            write = _write_for(source, entry, cached.get(item_id), stamp)
        except ValueError as error:  # larger than an entity can hold, even compressed
            logger.warning("Item %s cannot be cached: %s", item_id, error)
            plan.failures[item_id] = "itemTooLarge"
            del entries[item_id]
            continue
        _add(plan, write)
    for item_id, code in (plan.failures | seen.unread).items():
        current = cached.get(item_id)
        if current is not None and item_id not in entries and not current.removed:
            _add(plan, _mark_failing(current, code, previous))
    kept = plan.failures.keys() | seen.unread.keys() | entries.keys()
    for item_id, item in cached.items():
        if item_id not in kept and seen.removable(item_id) and not item.removed:
            _add(plan, _removal(source, item, stamp))
            plan.removals.add(item_id)
    plan.complete = seen.error is None and not plan.failures
    return plan


def journal_after(
    cached: Mapping[str, StoredItem], writes: list[CacheWrite], outcome: WriteOutcome
) -> list[JournalEntry]:
    """The items that have changes to record (or are to be deleted) once the writes that
    landed are in: each at the version its last write left."""
    states = dict(cached)
    for write in writes:
        etag = outcome.etags.get(write.item_id)
        if etag is None:
            continue  # did not land: the item is as it was
        before = states.get(write.item_id)
        states[write.item_id] = (
            before.after(write, etag) if before is not None else StoredItem(write.entity, etag=etag)
        )
    journal = []
    for item_id, state in states.items():
        if state.etag is not None and (state.pending or state.removed):
            journal.append(JournalEntry(item_id, state.etag, state.pending, state.removed))
    return journal


def _add(plan: PollPlan, write: CacheWrite | None) -> None:
    if write is None:
        plan.unchanged += 1
        return
    plan.writes.append(write)


def _write_for(
    source: Source, entry: CacheEntry, current: StoredItem | None, stamp: PollStamp
) -> CacheWrite | None:
    """What the cache needs so it holds what Graph sent; None when it already does.

    Only a change of what Graph sent rewrites an item: a PATCH made since the last poll
    survives a poll that merely sees a renamed profile. The summary (health and why, the
    listing's fields, a cleared poll error) is merged alone when only it differs.
    """
    fresher = (current.last_checked_date_time if current else None) or ""
    if current is not None and not current.removed and fresher > stamp.started:
        # Read from Graph again after this poll began (a job action's read-back): what this
        # poll saw may be older, and must not put an earlier state back.
        return None
    entry.last_checked_date_time = stamp.started
    at = change_time(stamp.decided, current.last_changed if current else None)
    if current is None or current.removed:
        # New, or back before its removal was done: a new item (a removal that was recorded
        # ended its chain; one that was not, for runs, continues it).
        date_health(entry, None, at)
        record = entry.record()
        quiet = current is not None and not source.reports_removals
        before = source.summarize(current) if current is not None and quiet else None
        change = _change_from(source, before, source.summarize(StoredItem(record.columns())), at)
        pending = _carried(current, change, stamp)
        if current is None:
            return create_write(record, pending)
        return replace_write(record, current, pending)
    if current.graph_hash != entry.graph_hash:
        date_health(entry, current, at)
        record = entry.record()
        change = _change(source, current, StoredItem(record.columns()), at)
        # A replace keeps what is still pending.
        return replace_write(record, current, _carried(current, change, stamp))
    update = _stale_update(entry, current, stamp.started, at)
    if not update:
        return None
    change = _change(source, current, current.after(merge_write(current, update)), at)
    if change is not None:
        update.pending = _carried(current, change, stamp)
    return merge_write(current, update)


def _stale_update(entry: CacheEntry, current: StoredItem, now: str, at: str) -> ItemUpdate:
    """What of an item whose Graph data did not change still needs writing (``now``: when it
    was read; ``at``: when a change of its health happens)."""
    update, (health, reason) = entry.refresh(current)
    if current.health != str(health) or current.reason != reason:
        update.health = (health, reason)
        # Judged anew (health that changes with time alone): so is when Graph says it began.
        health_since, update.since_date_time = health_dates(current, health, entry.began, at)
        if health_since != current.health_since:
            update.health_since = health_since
    if current.poll_error:
        update.poll_error = ""
        update.last_checked_date_time = now
    return update


def _mark_failing(current: StoredItem, code: str, previous: PollRun | None) -> CacheWrite | None:
    """Record on a cached item that the poll could not read it (once per error code), with
    the last time it was read, so /api/statuses can say how fresh it is."""
    if current.poll_error == code:
        return None
    last_checked = current.last_checked_date_time or ""
    if not current.poll_error and previous and previous.listed_date_time:
        last_checked = max(last_checked, previous.listed_date_time)
    update = ItemUpdate(poll_error=code, last_checked_date_time=last_checked or None)
    return merge_write(current, update)


def _removal(source: Source, current: StoredItem, stamp: PollStamp) -> CacheWrite:
    """Mark an item removed, with its removal change (when the source reports removals)."""
    at = change_time(stamp.decided, current.last_changed)
    gone = _removed(source.summarize(current))
    change = _change(source, current, None, at, gone=gone) if source.reports_removals else None
    return merge_write(current, ItemUpdate(removed=True, pending=_carried(current, change, stamp)))


def _carried(
    current: StoredItem | None, change: StatusChange | None, stamp: PollStamp
) -> list[PendingChange]:
    """The item's pending changes, and this one after them: written with the item."""
    new = [PendingChange(change=change, notify=stamp.notify)] if change is not None else []
    return (current.pending if current is not None else []) + new


def _change(
    source: Source,
    current: StoredItem,
    after: StoredItem | None,
    at: str,
    *,
    gone: ItemSummary | None = None,
) -> StatusChange | None:
    """The change a write makes to a cached item (``after``: the item once written, or the
    item ``gone``), if it changes its status or health."""
    before = source.summarize(current)
    now = gone if gone is not None or after is None else source.summarize(after)
    if now is None:
        return None
    if current.health is None and before.status == now.status:
        return None  # a row cached before health existed gains its health: not a change
    return _change_from(source, before, now, at)


def _change_from(
    source: Source, before: ItemSummary | None, now: ItemSummary, at: str
) -> StatusChange | None:
    """The change of status or health from ``before`` (None: the item is new) to ``now``,
    if there is one."""
    if before is not None and (before.status, before.health) == (now.status, now.health):
        return None
    return StatusChange(
        source=source.name,
        id=now.id,
        displayName=now.display_name,
        previousStatus=before.status if before else None,
        status=now.status,
        previousHealth=before.health if before else None,
        health=now.health,
        changedDateTime=at,
        reason=now.reason,
        path=source.item_path(now.id),
    )


def _removed(before: ItemSummary) -> ItemSummary:
    """What an item is once a complete listing no longer has it."""
    return ItemSummary(
        source=before.source, id=before.id, display_name=before.display_name, status=None,
        health="unknown", health_since=None, reason="Removed: Graph no longer lists it.",
        last_checked_date_time=None, poll_error=None,
    )  # fmt: skip
