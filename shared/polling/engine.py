"""The poll engine: every enabled source read side by side, each on its own, with its own
poll record, so one source failing or refused never stops the others.

For one source: read the cache and the last poll record, let the source observe Graph, plan
the writes (``diff``), and write them, each conditional on the version it was decided from
(an item another writer changed meanwhile is read again and decided anew, so its change
follows theirs). Each write carries the change it makes; the changes are then moved to the
history and the outbox and cleared from their items (``recording``). A crash at any point
leaves every change either unwritten (the next poll makes it again) or pending on its item
(the next poll records it, with the same event id). Last, the poll record /api/health
reports is saved. A source Graph refuses (4xx on the listing) is reported with Graph's code
and message, and its cached data is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.core.errors import StorageUnavailableError
from shared.core.time import graph_timestamp, parse_timestamp, utc_now
from shared.polling.diff import PollPlan, PollStamp, journal_after, plan_writes
from shared.polling.pruning import prune_history
from shared.settings import Settings
from shared.sources import SOURCES
from shared.sources.base import Observation, Source
from shared.storage.items import CacheWrite, StoredItem
from shared.storage.poll_runs import PollRun
from shared.storage.recording import JournalEntry, flush_pending
from shared.storage.statuses import WriteOutcome
from shared.storage.store import StatusStore

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)

# Times an item another writer keeps changing is read again and decided anew in one poll.
MAX_CONFLICT_ROUNDS = 5
# How often a source Graph has retired is asked again (it comes back by itself if Graph does).
RETIRED_ASKED_EVERY = timedelta(days=1)


async def poll_all_sources(
    settings: Settings, store: StatusStore, graph: GraphClient, *, prune: bool = True
) -> list[PollRun]:
    """Poll every enabled source once, side by side; return each source's run record (also
    saved), then (``prune``) the daily housekeeping. A source that could not record its run
    fails the invocation, after the others."""
    enabled = [source for source in SOURCES if source.name in settings.enabled_sources]
    results = await asyncio.gather(
        *(poll_source(source, settings, store, graph) for source in enabled),
        return_exceptions=True,
    )
    if prune:
        await prune_history(store, settings)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if isinstance(result, PollRun)]


async def poll_source(
    source: Source, settings: Settings, store: StatusStore, graph: GraphClient
) -> PollRun:
    """Read the cache, observe Graph, write what changed and record the changes."""
    run = PollRun(source=source.name, outcome="failed", started_date_time=utc_now())
    try:
        previous = (await store.poll_runs.by_source()).get(source.name)
        if previous is not None and _retired_until(previous) > run.started_date_time:
            return previous  # retired: asked again once a day, its record kept as it is
        cached = await store.statuses.read_source(source.name)
        run.listed_date_time = previous.listed_date_time if previous else None
        # What a source keeps between polls is in storage too: observe may raise its outage.
        seen = await source.observe(graph, cached, settings, store.state_of(source.name))
    except StorageUnavailableError as error:
        logger.warning("Could not read the cache of %s: %s", source.name, error)
        message = "Table Storage is unavailable; the poll changed nothing."
        run.source_error = {"status": None, "code": "storageUnavailable", "message": message}
        return await _finish(store, run)
    run.details = seen.details
    if seen.error is not None:
        run.source_error = seen.error.to_json()
        logger.warning("Listing %s failed: %s", source.name, seen.error)
    failures: dict[str, str] = {}
    if seen.error is not None and not seen.entries and not seen.listed:
        # Nothing read: keep the whole cache (but record what an earlier poll left pending);
        # `unavailable` when Graph refused the source, `retired` when it retired it.
        await _flush(
            store, settings, source, journal_after(cached, [], WriteOutcome()), failures, run
        )
        run.errors = [{"code": code, "count": 1} for code in failures.values()]
        run.outcome = "unavailable" if seen.error.is_refusal else "failed"
        if source.is_retirement(seen.error):
            run.outcome = "retired"
            run.retired_since = (previous and previous.retired_since) or run.started_date_time
        return await _finish(store, run)

    # Until a source has been read once, every item is new: history only, no flood of events.
    # A first poll killed part-way saved no run; one whose listing failed counts as not read.
    first_read = previous is None or (not cached and previous.listed_date_time is None)
    stamp = PollStamp(run.started_date_time, utc_now(), notify=not first_read)
    plan = plan_writes(source, seen, cached, previous, stamp)
    written = _Writes(plan=plan, current=dict(cached))
    written = await _write(source, store, seen, previous, written, stamp)
    failures |= plan.failures | written.failed
    journal = journal_after(written.current, written.writes, written)
    removed = await _flush(store, settings, source, journal, failures, run)
    _conclude(run, seen, plan, written, failures, removed)
    return await _finish(store, run)


def _retired_until(previous: PollRun) -> str:
    """When a source Graph retired is asked again (never before: "" for one not retired)."""
    if previous.outcome != "retired":
        return ""
    return graph_timestamp(parse_timestamp(previous.started_date_time) + RETIRED_ASKED_EVERY)


@dataclass
class _Writes(WriteOutcome):
    """What a poll wrote: the outcome of every write, the writes that were last decided for
    each item, and the items they were decided from."""

    plan: PollPlan = field(default_factory=PollPlan)
    current: dict[str, StoredItem] = field(default_factory=dict)
    writes: list[CacheWrite] = field(default_factory=list)


async def _write(
    source: Source,
    store: StatusStore,
    seen: Observation,
    previous: PollRun | None,
    written: _Writes,
    stamp: PollStamp,
) -> _Writes:
    """Write the plan; decide again, from a fresh read, for the items another writer (a
    PATCH) changed since the cache was read, so their changes follow the other writer's."""
    plan = written.plan
    written.writes = list(plan.writes)
    written.add(await store.statuses.write(plan.writes))
    for _round in range(MAX_CONFLICT_ROUNDS):
        if not written.conflicts:
            break
        ids, written.conflicts = written.conflicts, set()
        fresh = await asyncio.gather(*(store.statuses.read(source.name, i) for i in ids))
        reread = {i: item for i, item in zip(ids, fresh, strict=True) if item is not None}
        written.current = {i: e for i, e in written.current.items() if i not in ids} | reread
        again = plan_writes(
            source, seen.narrowed(ids), reread, previous, replace(stamp, decided=utc_now())
        )
        plan.failures |= again.failures
        plan.removals = (plan.removals - ids) | again.removals
        plan.unchanged += again.unchanged
        written.writes = [w for w in written.writes if w.item_id not in ids] + again.writes
        written.add(await store.statuses.write(again.writes))
    for item_id in written.conflicts:
        written.failed[item_id] = "writeConflict"
    return written


async def _flush(
    store: StatusStore,
    settings: Settings,
    source: Source,
    journal: list[JournalEntry],
    failures: dict[str, str],
    run: PollRun,
) -> int:
    """Record the pending changes and clear them (counted on ``run``); return how many items
    were deleted. A failure leaves them pending on their items, for the next poll (or PATCH)
    to record."""
    if not journal:
        return 0
    try:
        flushed = await flush_pending(store, settings, source.name, journal)
        run.changes_recorded = sum(len(entry.pending) for entry in journal)
        return flushed.removed
    except Exception as error:
        logger.warning("Changes of %s not recorded now: %s", source.name, error)
        failures["#history"] = "historyNotRecorded"
        return 0


def _conclude(
    run: PollRun,
    seen: Observation,
    plan: PollPlan,
    written: WriteOutcome,
    failures: dict[str, str],
    removed: int,
) -> None:
    if plan.complete:
        run.listed_date_time = run.started_date_time
    marked = len(plan.removals & written.etags.keys())
    run.counts = {
        "listed": seen.listed,
        "unchanged": plan.unchanged,
        "written": written.written - marked,
        "removed": removed,
        "failed": len(failures),
    }
    run.errors = [{"code": code, "count": n} for code, n in Counter(failures.values()).items()]
    run.outcome = "succeeded" if plan.complete and not written.failed else "partial"


async def _finish(store: StatusStore, run: PollRun) -> PollRun:
    run.finished_date_time = utc_now()
    try:
        await store.poll_runs.save(run)
    except StorageUnavailableError:
        # Health cannot learn of this poll; the invocation fails so the host's log shows it.
        logger.error("Polled %s (%s) but could not record it", run.source, run.outcome)
        raise
    logger.info(
        "Polled %s: %s %s errors=%s", run.source, run.outcome, run.counts, run.errors or "none"
    )
    return run
