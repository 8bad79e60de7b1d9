"""The poll engine: every enabled source read side by side, each on its own, with its own
poll record, so one source failing or refused never stops the others.

For one source: read the cache and the last poll record, let the source observe Graph, plan
the writes (``diff``), write them, record the changes they made (history and events; those
that cannot be recorded wait on their items for the next poll), and save the poll record
that /api/health reports. A source Graph refuses (4xx on the listing) is reported with
Graph's code and message, and its cached data is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import suppress
from typing import TYPE_CHECKING

from shared.core.changes import StatusChange
from shared.core.errors import StorageUnavailableError
from shared.core.time import utc_now
from shared.polling.diff import PollPlan, changes_made, pending_changes, plan_writes
from shared.polling.pruning import prune_history
from shared.settings import Settings
from shared.sources import SOURCES
from shared.sources.base import Observation, Source
from shared.storage.poll_runs import PollRun
from shared.storage.recording import record_changes
from shared.storage.statuses import WriteOutcome
from shared.storage.store import StatusStore

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)


async def poll_all_sources(
    settings: Settings, store: StatusStore, graph: GraphClient
) -> list[PollRun]:
    """Poll every enabled source once, side by side; return each source's run record (also
    saved). A source that could not record its run fails the invocation, after the others."""
    enabled = [source for source in SOURCES if source.name in settings.enabled_sources]
    results = await asyncio.gather(
        *(poll_source(source, settings, store, graph) for source in enabled),
        return_exceptions=True,
    )
    await prune_history(store, settings)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if isinstance(result, PollRun)]


async def poll_source(
    source: Source, settings: Settings, store: StatusStore, graph: GraphClient
) -> PollRun:
    """Read the cache, observe Graph, and write what changed."""
    run = PollRun(source=source.name, outcome="failed", started_date_time=utc_now())
    try:
        cached = await store.statuses.read_source(source.name)
        previous = (await store.poll_runs.by_source()).get(source.name)
    except StorageUnavailableError as error:
        logger.warning("Could not read the cache of %s: %s", source.name, error)
        message = "Table Storage is unavailable; the poll changed nothing."
        run.source_error = {"status": None, "code": "storageUnavailable", "message": message}
        return await _finish(store, run)
    run.listed_date_time = previous.listed_date_time if previous else None
    seen = await source.observe(graph, cached, settings)
    if seen.error is not None:
        run.source_error = seen.error.to_json()
        logger.warning("Listing %s failed: %s", source.name, seen.error)
    if seen.error is not None and not seen.entries and not seen.listed:
        # Nothing read: keep the whole cache; `unavailable` when Graph refused the source.
        run.outcome = "unavailable" if seen.error.is_refusal else "failed"
        return await _finish(store, run)

    now = run.started_date_time
    plan = plan_writes(seen, cached, previous, now)
    written = await store.statuses.write(plan.writes)
    failures = plan.failures | written.failed
    # Changes an earlier poll could not record come first: they happened first.
    pending = pending_changes(cached)
    history = pending + changes_made(source, plan.writes, cached, written.failed, now)
    # Until a source has been read once, every item is new: history only, no flood of events
    # (a source whose first polls failed counts as not read yet).
    first_read = not cached and (previous is None or previous.listed_date_time is None)
    if not await _record(store, settings, source, history, pending, notify=not first_read):
        failures["#history"] = "historyNotRecorded"
    _conclude(run, seen, plan, written, failures, now)
    return await _finish(store, run)


async def _record(
    store: StatusStore,
    settings: Settings,
    source: Source,
    history: list[StatusChange],
    pending: list[StatusChange],
    *,
    notify: bool,
) -> bool:
    """Record the changes; False when they could not be and wait on their items instead.

    The cache already holds the new values, so no later poll would see these changes again:
    they are kept on their items, and the next poll records them (same event ids, so
    whatever did get queued is not queued twice).
    """
    try:
        await record_changes(store, settings, history, notify=notify)
        await store.statuses.clear_pending_changes(source.name, {c.id for c in pending})
    except Exception as error:
        logger.warning("%d changes of %s not recorded now: %s", len(history), source.name, error)
        with suppress(Exception):
            await store.statuses.keep_pending_changes(source.name, history)
        return False
    return True


def _conclude(
    run: PollRun,
    seen: Observation,
    plan: PollPlan,
    written: WriteOutcome,
    failures: dict[str, str],
    now: str,
) -> None:
    if plan.complete:
        run.listed_date_time = now
    run.counts = {
        "listed": seen.listed,
        "unchanged": plan.unchanged,
        "written": written.written,
        "removed": written.removed,
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
