"""Housekeeping after a poll: history older than HISTORY_RETENTION_DAYS, delivered events
kept a week as markers, items' log entries older than ITEM_LOGS_KEPT (including those of
items no longer monitored) and incidents resolved 90 days ago are deleted, at most once a
day. It never fails the poll."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shared.core.changes import DELIVERED_MARKERS_KEPT
from shared.core.incidents import INCIDENTS_KEPT
from shared.core.time import graph_timestamp, parse_timestamp, utc_now
from shared.settings import Settings
from shared.storage.item_logs import ITEM_LOGS_KEPT
from shared.storage.poll_runs import PollRun
from shared.storage.store import StatusStore

logger = logging.getLogger(__name__)

# The poll-run row that records when the history was last pruned (once a day is enough).
HISTORY_PRUNE = "historyRetention"
_PRUNE_EVERY = timedelta(days=1)


async def prune_history(store: StatusStore, settings: Settings) -> int:
    """Delete history older than HISTORY_RETENTION_DAYS, at most once a day; never raises."""
    now = datetime.now(UTC)
    try:
        last = (await store.poll_runs.by_source()).get(HISTORY_PRUNE)
        if last is not None and parse_timestamp(last.started_date_time) > now - _PRUNE_EVERY:
            return 0
        started = utc_now()
        cutoff = now - timedelta(days=settings.history_retention_days)
        removed = await store.history.prune(graph_timestamp(cutoff))
        # Delivered events stay as markers a while (so a change recorded again after a
        # failure is not sent twice), then go.
        settled = await store.outbox.prune(graph_timestamp(now - DELIVERED_MARKERS_KEPT))
        logged = await store.item_logs.prune(graph_timestamp(now - ITEM_LOGS_KEPT))
        resolved = await store.incidents.prune(graph_timestamp(now - INCIDENTS_KEPT))
        counts = {
            "removed": removed,
            "deliveredEventsRemoved": settled,
            "logEntriesRemoved": logged,
            "incidentsRemoved": resolved,
        }
        await store.poll_runs.save(PollRun(HISTORY_PRUNE, "succeeded", started, utc_now(), counts))
    except Exception:  # pruning is housekeeping: it never fails the poll
        logger.exception("History not pruned this time")
        return 0
    if removed:
        logger.info("Pruned %d changes older than %s from the history", removed, cutoff)
    return removed
