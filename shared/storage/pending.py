"""The changes waiting on an item (``pendingChanges``), written in the same write as the
item, and what is kept beside them: the time of the last change (no later change is stamped
before it) and the item's health timeline of the last month (what the board draws)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from shared.core.changes import PendingChange
from shared.core.time import graph_timestamp, parse_timestamp
from shared.storage.codec import Entity, get_text, put_text

logger = logging.getLogger(__name__)

PENDING_COLUMN = "pendingChanges"
# When the item's last change happened: the next one is never stamped before it.
LAST_CHANGE_COLUMN = "lastChangedDateTime"
# The item's health over the last month, [[time, health], ...] oldest first, kept as its
# changes are written (what the board draws without reading the history); the newest
# TIMELINE_MAX, and one from before the month, for the health it started it in.
TIMELINE_COLUMN = "healthTimeline"
TIMELINE_KEPT = timedelta(days=31)
TIMELINE_MAX = 200


def pending_of(entity: Entity | None) -> list[PendingChange]:
    """The changes waiting on an item, oldest first (an unreadable list counts as none: it
    was written by this code, so it is never expected)."""
    text = get_text(entity or {}, PENDING_COLUMN)
    if not text:
        return []
    try:
        entries = json.loads(text)
        # Written before changes carried their notify flag: a plain change is one to send.
        return [
            PendingChange.model_validate(entry if "change" in entry else {"change": entry})
            for entry in entries
        ]
    except ValueError:  # ValidationError included
        logger.exception("Pending changes of %s cannot be read", (entity or {}).get("RowKey"))
        return []


def put_pending(
    columns: Entity, pending: list[PendingChange], *, over: Entity | None = None
) -> None:
    """Write the changes waiting on an item into ``columns`` (none: an empty column), with
    the time of the last one; ``over`` is the entity a MERGE of ``columns`` writes over."""
    text = "[" + ",".join(entry.model_dump_json() for entry in pending) + "]" if pending else ""
    _put_timeline(columns, pending, over)
    put_text(columns, PENDING_COLUMN, text, over=over)
    if pending:
        columns[LAST_CHANGE_COLUMN] = pending[-1].change.changedDateTime
    elif over is not None and over.get(LAST_CHANGE_COLUMN):
        columns[LAST_CHANGE_COLUMN] = over[LAST_CHANGE_COLUMN]


def health_timeline(entity: Entity | None) -> list[list[str]]:
    """The item's health changes of the last month, ``[[time, health], ...]``, oldest first."""
    try:
        timeline = json.loads((entity or {}).get(TIMELINE_COLUMN) or "[]")
    except ValueError:
        return []
    return [entry for entry in timeline if isinstance(entry, list) and len(entry) == 2]


def _put_timeline(columns: Entity, pending: list[PendingChange], over: Entity | None) -> None:
    """Add the health of each change new in ``pending`` to the timeline ``over`` had, and
    write it with ``columns`` (a replace keeps it too)."""
    if not pending and over is None:
        return  # a merge that only clears recorded changes: the timeline stays as it is
    timeline = health_timeline(over)
    if over is not None and TIMELINE_COLUMN not in over and over.get("health"):
        # Kept since before there was a timeline: it begins with the health it has had.
        began = over.get("healthSince") or over.get(LAST_CHANGE_COLUMN)
        if began:
            timeline = [[began, str(over["health"])]]
    # Changes on an item are stamped in order (change_time): those after the timeline's
    # last entry are the new ones (those still pending on ``over`` are in it already).
    last = timeline[-1][0] if timeline else ""
    timeline += [
        [entry.change.changedDateTime, str(entry.change.health)]
        for entry in pending
        if entry.change.kind == "change" and entry.change.changedDateTime > last
    ]
    if not timeline:
        return
    oldest = graph_timestamp(datetime.now(UTC) - TIMELINE_KEPT)
    recent = [entry for entry in timeline if entry[0] >= oldest]
    before = [entry for entry in timeline if entry[0] < oldest][-1:]  # the month's start
    columns[TIMELINE_COLUMN] = json.dumps((before + recent)[-TIMELINE_MAX:])


def change_time(now: str, last: str | None) -> str:
    """When a change to the item happens: ``now``, but never at or before the item's last
    change (``last``). Writers on other instances keep their own clocks; each change still
    sorts after the one before it (history and the outbox are ordered by this time)."""
    if not last or parse_timestamp(now) > parse_timestamp(last):
        return now
    return graph_timestamp(parse_timestamp(last) + timedelta(microseconds=1))
