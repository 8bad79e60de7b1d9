"""What the board shows, read from the cache alone (no Graph call): the health report, one
row per monitored item (worst first), each with its 30-day health strip (from the timeline
kept with the item: two queries in all, however many items), and an item's detail (its
history and its document as Graph sent it). Reading (``read_cache``, on the event loop) is
apart from building the rows (``snapshot_of``, no I/O), which the board does off the loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.core.health import Health
from shared.core.schedule import next_run_after
from shared.http.board.rows import RUNS, flow_of, run_flows, since_words, tag_twins
from shared.http.board.steps import Step, next_steps
from shared.http.board.strips import Period, periods
from shared.polling.report import health_report
from shared.settings import Settings
from shared.sources import SOURCES, source_named
from shared.sources.base import SINCE_COLUMN
from shared.storage.pending import LAST_CHANGE_COLUMN, TIMELINE_COLUMN, health_timeline
from shared.storage.store import StatusStore

# Worst first; an item with no health yet sorts with unknown.
HEALTH_ORDER = tuple(str(h) for h in (Health.ERROR, Health.WARNING, Health.UNKNOWN, Health.HEALTHY))
_RANK = {health: rank for rank, health in enumerate(HEALTH_ORDER)}
# What a row reads of an item (SDS keeps its listed name in "profile").
ROW_COLUMNS = [
    "displayName", "profile", "status", "health", "healthSince", "reason",
    "lastCheckedDateTime", "pollError", "kind", LAST_CHANGE_COLUMN, TIMELINE_COLUMN,
    SINCE_COLUMN,
]  # fmt: skip
# Rows asked for at a time: a page is parsed on the event loop in one go (200: a few ms).
_PAGE_SIZE = 200
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
    # "graph" (Graph's time of the condition) or "firstSeen" (the app's first sighting).
    since_from: str = "firstSeen"
    # What tells it apart from another row of the same name (``rows.tag_twins``).
    tag: str | None = None
    # An Industry Data flow's row: how many older runs it stands for (listed on its page).
    older_runs: int = 0


@dataclass
class Board:
    report: dict[str, Any]
    rows: list[Row]
    titles: dict[str, str]
    counts: dict[str, int]
    reload_after: int
    now: datetime
    # Every row of the sources filtered, whatever the health filter (for the source cards).
    all_rows: list[Row] = field(default_factory=list)


@dataclass
class Snapshot:
    """One read of the cache: the health report and the row of every item of the enabled
    sources, worst first. Every filter of the board is cut from it (``board_of``)."""

    report: dict[str, Any]
    rows: list[Row]
    titles: dict[str, str]
    reload_after: int
    now: datetime


async def read_cache(settings: Settings, store: StatusStore) -> tuple[dict[str, Any], list[Any]]:
    """The health report and the summary columns of every item of the enabled sources."""
    enabled = list(settings.enabled_sources)
    report, entities = await asyncio.gather(
        health_report(settings, store),
        store.statuses.summaries(enabled, ROW_COLUMNS, page_size=_PAGE_SIZE)
        if enabled
        else asyncio.sleep(0, []),
    )
    return report, entities


def snapshot_of(
    settings: Settings, report: dict[str, Any], entities: list[Any], now: datetime
) -> Snapshot:
    """The rows of what ``read_cache`` read (no I/O: the board builds it in a worker thread)."""
    rows, older = run_flows([_row(entity, now) for entity in entities], _started)
    for row in rows:
        row.older_runs = older.get(row.id, 0) if row.source == RUNS else 0
    tag_twins(rows)
    rows.sort(key=lambda r: (_RANK.get(r.health, 2), r.since or "~", r.display_name.lower()))
    reload_at = next_run_after(settings.poll_schedule, now)
    reload_after = int((reload_at - now).total_seconds()) + _RELOAD_GRACE
    titles = {source.name: source.title for source in SOURCES}
    return Snapshot(report, rows, titles, reload_after, now)


def board_of(snapshot: Snapshot, health: list[str], sources: list[str]) -> Board:
    """The board filtered by health and source (empty: all); counts are of the sources'."""
    of_sources = [row for row in snapshot.rows if not sources or row.source in sources]
    counts = {name: sum(1 for row in of_sources if row.health == name) for name in _RANK}
    rows = [row for row in of_sources if not health or row.health in health]
    return Board(
        snapshot.report,
        rows,
        snapshot.titles,
        counts,
        snapshot.reload_after,
        snapshot.now,
        of_sources,
    )


def _started(row: Row) -> str:
    """When a run started (Graph's time of its outcome), for the latest run of a flow."""
    return row.since or ""


def _row(entity: dict[str, Any], now: datetime) -> Row:
    source = source_named(entity["PartitionKey"])
    summary = source.summarize(entity)
    since, since_from = summary.since
    # A row from before healthSince was kept says when it last changed instead.
    since = since or entity.get(LAST_CHANGE_COLUMN)
    strip_since = summary.health_since or entity.get(LAST_CHANGE_COLUMN)
    return Row(
        source=source.name,
        source_title=source.title,
        kind=entity.get("kind") or None,
        id=summary.id,
        display_name=summary.display_name or summary.id,
        status=summary.status,
        health=summary.health,
        since=since,
        since_words=since_words(since, since_from, now),
        reason=summary.reason,
        poll_error=summary.poll_error,
        strip=periods(health_timeline(entity), summary.health, now, strip_since),
        since_from=since_from,
    )


@dataclass
class ItemDetail:
    row: Row
    changes: list[dict[str, Any]]
    document: Any
    # An Industry Data run's flow: every run of it kept, newest first (this one included).
    runs: list[Row] = field(default_factory=list)
    # What to do next (links and times read from the document: ``steps``).
    steps: list[Step] = field(default_factory=list)


async def read_item(store: StatusStore, source_name: str, item_id: str) -> ItemDetail | None:
    """One item: its row, its history newest first (the latest 100), what Graph sent, and
    for an Industry Data run the other runs of its flow."""
    source = source_named(source_name)
    now = datetime.now(UTC)
    entity = await store.statuses.get(source.name, item_id)
    if entity is None:
        return None
    changes, _next = await store.history.page(source.name, item_id, top=100, continuation=None)
    dumped = [change.model_dump() for change in changes]
    row = _row(entity, now)
    runs: list[Row] = []
    every = await store.statuses.summaries([source.name], ROW_COLUMNS, page_size=_PAGE_SIZE)
    if source.name == RUNS:
        runs = [_row(other, now) for other in every]
        runs = [run for run in runs if flow_of(run.display_name) == flow_of(row.display_name)]
        runs.sort(key=lambda run: (_started(run), run.id), reverse=True)
    else:  # told apart from the items of its name, as on the board
        name = entity.get("displayName")
        twins = [_row(other, now) for other in every if other.get("displayName") == name]
        tag_twins(twins)
        row.tag = next((twin.tag for twin in twins if twin.id == row.id), None)
    document = source.document_in(entity)
    return ItemDetail(row, dumped, document, runs, next_steps(source.name, item_id, document, now))
