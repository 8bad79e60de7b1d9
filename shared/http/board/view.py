"""What the board shows, read from the cache alone (no Graph call): the health report, one
row per monitored item (worst first), each with its 30-day health strip (from the timeline
kept with the item: two queries in all, however many items), and an item's detail (its
history and its document as Graph sent it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.core.health import Health, in_words
from shared.core.schedule import next_run_after
from shared.core.time import parse_timestamp
from shared.http.board.strips import Period, periods
from shared.polling.report import health_report
from shared.settings import Settings
from shared.sources import SOURCES, source_named
from shared.storage.statuses import LAST_CHANGE_COLUMN, TIMELINE_COLUMN, health_timeline
from shared.storage.store import StatusStore

# Worst first; an item with no health yet sorts with unknown.
HEALTH_ORDER = tuple(str(h) for h in (Health.ERROR, Health.WARNING, Health.UNKNOWN, Health.HEALTHY))
_RANK = {health: rank for rank, health in enumerate(HEALTH_ORDER)}
# What a row reads of an item (SDS keeps its listed name in "profile").
_COLUMNS = [
    "displayName", "profile", "status", "health", "healthSince", "reason",
    "lastCheckedDateTime", "pollError", "kind", LAST_CHANGE_COLUMN, TIMELINE_COLUMN,
]  # fmt: skip
# Seconds after the next expected poll before the page reloads itself (the poll's time).
_RELOAD_GRACE = 30


@dataclass
class Row:
    source: str
    source_title: str
    # What kind of sync it is, where its source says (a provisioning job's template).
    kind: str | None
    id: str
    display_name: str
    status: str | None
    health: str
    since: str | None
    since_words: str | None
    reason: str | None
    poll_error: str | None
    strip: list[Period] = field(default_factory=list)


@dataclass
class Board:
    report: dict[str, Any]
    rows: list[Row]
    titles: dict[str, str]
    counts: dict[str, int]
    reload_after: int
    now: datetime


async def read_board(
    settings: Settings, store: StatusStore, health: list[str], sources: list[str]
) -> Board:
    """The whole board, filtered by health and source (empty: all)."""
    now = datetime.now(UTC)
    enabled = [name for name in settings.enabled_sources if not sources or name in sources]
    report, entities = await asyncio.gather(
        health_report(settings, store),
        store.statuses.summaries(enabled, _COLUMNS) if enabled else asyncio.sleep(0, []),
    )
    all_rows = [_row(entity, now) for entity in entities]
    counts = {name: sum(1 for row in all_rows if row.health == name) for name in _RANK}
    rows = [row for row in all_rows if not health or row.health in health]
    rows.sort(key=lambda r: (_RANK.get(r.health, 2), r.since or "~", r.display_name.lower()))
    reload_at = next_run_after(settings.poll_schedule, now)
    reload_after = int((reload_at - now).total_seconds()) + _RELOAD_GRACE
    titles = {source.name: source.title for source in SOURCES}
    return Board(report, rows, titles, counts, reload_after, now)


def _row(entity: dict[str, Any], now: datetime) -> Row:
    source = source_named(entity["PartitionKey"])
    summary = source.summarize(entity)
    # A row from before healthSince was kept says when it last changed instead.
    since = summary.health_since or entity.get(LAST_CHANGE_COLUMN)
    return Row(
        source=source.name,
        source_title=source.title,
        kind=entity.get("kind") or None,
        id=summary.id,
        display_name=summary.display_name or summary.id,
        status=summary.status,
        health=summary.health,
        since=since,
        since_words=_ago(since, now),
        reason=summary.reason,
        poll_error=summary.poll_error,
        strip=periods(health_timeline(entity), summary.health, now, since),
    )


def _ago(moment: str | None, now: datetime) -> str | None:
    if not moment:
        return None
    try:
        age = now - parse_timestamp(moment)
    except ValueError:
        return None
    return "just now" if age.total_seconds() < 60 else in_words(age) + " ago"


@dataclass
class ItemDetail:
    row: Row
    changes: list[dict[str, Any]]
    document: Any


async def read_item(store: StatusStore, source_name: str, item_id: str) -> ItemDetail | None:
    """One item: its row, its history newest first (the latest 100), and what Graph sent."""
    source = source_named(source_name)
    now = datetime.now(UTC)
    entity = await store.statuses.get(source.name, item_id)
    if entity is None:
        return None
    changes, _next = await store.history.page(source.name, item_id, top=100, continuation=None)
    dumped = [change.model_dump() for change in changes]
    return ItemDetail(
        row=_row(entity, now),
        changes=dumped,
        document=source.document_in(entity),
    )
