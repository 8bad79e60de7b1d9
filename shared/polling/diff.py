"""What a poll writes, and which changes it records: decided from what Graph sent and what
the cache held, with no I/O, so every rule can be tested on its own.

Rules:
- an item is rewritten only when what Graph sends differs from what it sent at the previous
  poll (a fingerprint is kept), so a poll that finds nothing new writes nothing and a PATCH
  made in between survives until Graph changes it; the summary columns (health and why, the
  listing's fields, a cleared poll error) are merged alone when only they are stale;
- an item the poll could not read keeps its last good value and is marked with the error;
- an item is removed only when a complete listing no longer has it;
- a write changes an item's status or health: that is a change, for history and events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from shared.core.changes import StatusChange
from shared.sources.base import CacheEntry, ItemSummary, Observation, Source
from shared.storage.codec import Entity, etag_of, get_text
from shared.storage.poll_runs import PollRun
from shared.storage.statuses import CacheWrite

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


def plan_writes(
    seen: Observation, cached: Mapping[str, Entity], previous: PollRun | None, now: str
) -> PollPlan:
    """The cache writes for what a poll saw of one source (see the module's rules)."""
    plan = PollPlan(failures=dict(seen.failures))
    entries = dict(seen.entries)
    for item_id, entry in seen.entries.items():
        try:
            write = _write_for(entry, cached.get(item_id), now)
        except ValueError as error:  # larger than an entity can hold, even compressed
            logger.warning("Item %s cannot be cached: %s", item_id, error)
            plan.failures[item_id] = "itemTooLarge"
            del entries[item_id]
            continue
        if write is None:
            plan.unchanged += 1
        else:
            plan.writes.append(write)
    for item_id, code in (plan.failures | seen.unread).items():
        current = cached.get(item_id)
        if current is not None and item_id not in entries:
            write = _mark_failing(current, code, previous)
            if write is not None:
                plan.writes.append(write)
    kept = plan.failures.keys() | seen.unread.keys() | entries.keys()
    plan.writes += [
        CacheWrite("delete", entity, etag_of(entity))
        for item_id, entity in cached.items()
        if item_id not in kept and seen.removable(item_id)
    ]
    plan.complete = seen.error is None and not plan.failures
    return plan


def changes_made(
    source: Source,
    writes: list[CacheWrite],
    cached: Mapping[str, Entity],
    failed: Mapping[str, str],
    now: str,
) -> list[StatusChange]:
    """The changes of status or health the writes that landed (not in ``failed``) made."""
    changes = (
        _status_change(source, write, cached.get(write.item_id), now)
        for write in writes
        if write.item_id not in failed
    )
    return [change for change in changes if change is not None]


def pending_changes(cached: Mapping[str, Entity]) -> list[StatusChange]:
    """Changes an earlier poll kept on their items because it could not record them, oldest
    first (they happened before this poll's)."""
    pending: list[StatusChange] = []
    for entity in cached.values():
        text = get_text(entity, "pendingChanges")
        if text:
            with suppress(ValueError):
                pending += [StatusChange.model_validate(c) for c in json.loads(text)]
    return sorted(pending, key=lambda change: change.changedDateTime)


def _write_for(entry: CacheEntry, current: Entity | None, now: str) -> CacheWrite | None:
    """What the cache needs so it holds what Graph sent; None when it already does.

    Only a change of what Graph sent rewrites an item: a PATCH made since the last poll
    survives a poll that merely sees a renamed profile. The summary columns (health and why,
    the listing's fields, a cleared poll error) are merged alone when only they differ.
    """
    entry.last_checked_date_time = now
    if current is None:
        entry.health_since = now
        return CacheWrite("create", entry.to_entity())
    etag = etag_of(current)
    if current.get("graphHash") != entry.graph_hash:
        same_health = current.get("health") == str(entry.health[0])
        entry.health_since = current.get("healthSince", now) if same_health else now
        return CacheWrite("replace", entry.to_entity(), etag)
    columns = _stale_columns(entry, current, now)
    if columns:
        keys = {"PartitionKey": current["PartitionKey"], "RowKey": current["RowKey"]}
        return CacheWrite("merge", keys | columns, etag)
    return None


def _stale_columns(entry: CacheEntry, current: Entity, now: str) -> dict[str, Any]:
    """Columns of an item whose Graph data did not change that still need writing."""
    columns, (health, reason) = entry.refresh_columns(current)
    if current.get("health") != str(health) or current.get("reason") != reason:
        columns["health"], columns["reason"] = str(health), reason
        if current.get("health") != str(health) or not current.get("healthSince"):
            columns["healthSince"] = now
    if current.get("pollError"):
        columns["pollError"] = ""
        columns["lastCheckedDateTime"] = now
    return columns


def _mark_failing(current: Entity, code: str, previous: PollRun | None) -> CacheWrite | None:
    """Record on a cached item that the poll could not read it (once per error code), with
    the last time it was read, so /api/statuses can say how fresh it is."""
    if current.get("pollError") == code:
        return None
    last_checked = current.get("lastCheckedDateTime") or ""
    if not current.get("pollError") and previous and previous.listed_date_time:
        last_checked = max(last_checked, previous.listed_date_time)
    keys = {"PartitionKey": current["PartitionKey"], "RowKey": current["RowKey"]}
    columns = {"pollError": code}
    if last_checked:
        columns["lastCheckedDateTime"] = last_checked
    return CacheWrite("merge", keys | columns, etag_of(current))


def _status_change(
    source: Source, write: CacheWrite, current: Entity | None, now: str
) -> StatusChange | None:
    """The change of status or health a cache write makes, if it makes one."""
    before = source.summarize(current) if current is not None else None
    if write.kind == "delete":
        if before is None or not source.reports_removals:
            return None
        after = _removed(before)
    else:
        after = source.summarize({**(current or {}), **write.entity})
    if before is not None and (before.status, before.health) == (after.status, after.health):
        return None
    if current is not None and "health" not in current and before.status == after.status:
        return None  # a row cached before health existed gains its health: not a change
    return StatusChange(
        source=source.name,
        id=write.item_id,
        displayName=after.display_name,
        previousStatus=before.status if before else None,
        status=after.status,
        previousHealth=before.health if before else None,
        health=after.health,
        changedDateTime=now,
        reason=after.reason,
        path=source.item_path(write.item_id),
    )


def _removed(before: ItemSummary) -> ItemSummary:
    """What an item is once a complete listing no longer has it."""
    return ItemSummary(
        source=before.source, id=before.id, display_name=before.display_name, status=None,
        health="unknown", health_since=None, reason="Removed: Graph no longer lists it.",
        last_checked_date_time=None, poll_error=None,
    )  # fmt: skip
