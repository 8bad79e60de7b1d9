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
from shared.core.time import utc_now
from shared.http.board.incident_rows import (
    IncidentRow,
    Maintenance,
    Marks,
    incident_rows,
    maintenance_of,
)
from shared.http.board.rows import RUNS, flow_of, run_flows, since_words, tag_twins
from shared.http.board.steps import Step, next_steps
from shared.http.board.strips import Period, periods
from shared.polling.report import health_report
from shared.settings import Settings
from shared.sources import SOURCES, source_named
from shared.storage.items import StoredItem
from shared.storage.store import StatusStore

# Worst first; an item with no health yet sorts with unknown.
HEALTH_ORDER = tuple(str(h) for h in (Health.ERROR, Health.WARNING, Health.UNKNOWN, Health.HEALTHY))
_RANK = {health: rank for rank, health in enumerate(HEALTH_ORDER)}
# What a row reads of an item besides its summary (a profile's listed name, a job's kind).
ROW_PARTS = tuple(dict.fromkeys(part for source in SOURCES for part in source.summary_parts))
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
    # The maintenance window under way that covers it (None: none).
    maintenance: Maintenance | None = None


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
    # The incidents not resolved of the sources filtered, listed first.
    incidents: list[IncidentRow] = field(default_factory=list)


@dataclass
class Snapshot:
    """One read of the cache: the health report, the row of every item of the enabled
    sources, worst first, and the tenant's incidents not resolved. Every filter of the board
    is cut from it (``board_of``)."""

    report: dict[str, Any]
    rows: list[Row]
    titles: dict[str, str]
    reload_after: int
    now: datetime
    incidents: list[IncidentRow] = field(default_factory=list)


async def read_cache(
    settings: Settings, store: StatusStore
) -> tuple[dict[str, Any], list[StoredItem]]:
    """The health report and the summary of every item of the enabled sources."""
    enabled = list(settings.enabled_sources)
    report, items = await asyncio.gather(
        health_report(settings, store),
        store.statuses.summaries(enabled, parts=ROW_PARTS, page_size=_PAGE_SIZE)
        if enabled
        else asyncio.sleep(0, []),
    )
    return report, items


async def read_marks(store: StatusStore) -> Marks:
    """The tenant's incidents not resolved and maintenance windows not over: two small
    queries of one partition each (incidents and windows are few)."""
    at = utc_now()
    unresolved, windows = await asyncio.gather(
        store.incidents.unresolved(), store.maintenance.not_over(at)
    )
    incidents = tuple(incident for incident, _etag in unresolved)
    etags = tuple((incident.id, etag) for incident, etag in unresolved)
    return Marks(incidents, tuple(windows), at, etags)


def snapshot_of(
    settings: Settings, report: dict[str, Any], items: list[StoredItem], now: datetime,
    marks: Marks | None = None,
) -> Snapshot:  # fmt: skip
    """The rows of what ``read_cache`` read, with the incidents and maintenance windows of
    ``marks`` (no I/O: the board builds it in a worker thread)."""
    marks = marks or Marks()
    rows, older = run_flows([_row(item, now) for item in items], _started)
    for row in rows:
        row.older_runs = older.get(row.id, 0) if row.source == RUNS else 0
        if marks.windows:
            row.maintenance = maintenance_of(marks.windows, row.source, row.id, now)
    tag_twins(rows)
    rows.sort(key=lambda r: (_RANK.get(r.health, 2), r.since or "~", r.display_name.lower()))
    reload_at = next_run_after(settings.poll_schedule, now)
    reload_after = int((reload_at - now).total_seconds()) + _RELOAD_GRACE
    titles = {source.name: source.title for source in SOURCES}
    return Snapshot(report, rows, titles, reload_after, now, incident_rows(marks.incidents, now))


def board_of(snapshot: Snapshot, health: list[str], sources: list[str]) -> Board:
    """The board filtered by health and source (empty: all); counts are of the sources'."""
    of_sources = [row for row in snapshot.rows if not sources or row.source in sources]
    counts = {name: sum(1 for row in of_sources if row.health == name) for name in _RANK}
    rows = [row for row in of_sources if not health or row.health in health]
    incidents = [row for row in snapshot.incidents if not sources or row.source in sources]
    return Board(
        snapshot.report,
        rows,
        snapshot.titles,
        counts,
        snapshot.reload_after,
        snapshot.now,
        of_sources,
        incidents,
    )


def _started(row: Row) -> str:
    """When a run started (Graph's time of its outcome), for the latest run of a flow."""
    return row.since or ""


def _row(item: StoredItem, now: datetime) -> Row:
    source = source_named(item.source)
    summary = source.summarize(item)
    since, since_from = summary.since
    # A row from before healthSince was kept says when it last changed instead.
    since = since or item.last_changed
    strip_since = summary.health_since or item.last_changed
    return Row(
        source=source.name,
        source_title=source.title,
        kind=source.kind_of(item),
        id=summary.id,
        display_name=summary.display_name or summary.id,
        status=summary.status,
        health=summary.health,
        since=since,
        since_words=since_words(since, since_from, now),
        reason=summary.reason,
        poll_error=summary.poll_error,
        strip=periods(item.timeline, summary.health, now, strip_since),
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
    # Its incident not resolved (None: none).
    incident: IncidentRow | None = None


async def read_item(store: StatusStore, source_name: str, item_id: str) -> ItemDetail | None:
    """One item: its row (with the maintenance window it is in), its incident not resolved,
    its history newest first (the latest 100), what Graph sent, and for an Industry Data run
    the other runs of its flow."""
    source = source_named(source_name)
    now = datetime.now(UTC)
    item = await store.statuses.get(source.name, item_id)
    if item is None:
        return None
    (changes, _next), marks = await asyncio.gather(
        store.history.page(source.name, item_id, top=100, continuation=None), read_marks(store)
    )
    dumped = [change.model_dump() for change in changes]
    row = _row(item, now)
    row.maintenance = maintenance_of(marks.windows, source.name, item_id, now)
    mine = [one for one in marks.incidents if (one.source, one.itemId) == (source.name, item_id)]
    incident = next(iter(incident_rows(mine, now)), None)
    runs: list[Row] = []
    every = await store.statuses.summaries([source.name], parts=ROW_PARTS, page_size=_PAGE_SIZE)
    if source.name == RUNS:
        runs = [_row(other, now) for other in every]
        runs = [run for run in runs if flow_of(run.display_name) == flow_of(row.display_name)]
        runs.sort(key=lambda run: (_started(run), run.id), reverse=True)
    else:  # told apart from the items of its name, as on the board
        name = item.display_name
        twins = [_row(other, now) for other in every if other.display_name == name]
        tag_twins(twins)
        row.tag = next((twin.tag for twin in twins if twin.id == row.id), None)
    document = source.document_in(item)
    steps = next_steps(source.name, item_id, document, now)
    return ItemDetail(row, dumped, document, runs, steps, incident)
