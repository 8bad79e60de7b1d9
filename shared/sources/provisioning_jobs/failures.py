"""A job's failures from the provisioning logs: kept per job (the newest 500, at most 30
days), and summed up for its row (failed objects in the last 24 hours, the top error codes
with counts, one example of each)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from shared.core.errors import InvalidKeyError
from shared.core.health import mapping
from shared.core.time import graph_timestamp, parse_timestamp
from shared.storage.item_logs import ItemLogTable, LogEntry
from shared.storage.keys import validate_key

logger = logging.getLogger(__name__)

KEPT_PER_JOB = 500
KEPT_FOR = timedelta(days=30)
SUMMARY_WINDOW = timedelta(hours=24)
TOP_ERRORS = 3


async def keep_failures(
    logs: ItemLogTable, source: str, job_id: str, entries: list[dict[str, Any]], now: datetime
) -> None:
    """Keep a job's new failures (one seen before is rewritten), then drop the oldest past
    the newest KEPT_PER_JOB and those older than KEPT_FOR."""
    kept = [entry for entry in map(_log_entry, entries) if entry is not None]
    await logs.add(source, job_id, kept)
    await logs.trim(source, job_id, keep=KEPT_PER_JOB, before=graph_timestamp(now - KEPT_FOR))


async def summarize_failures(
    logs: ItemLogTable, source: str, job_id: str, now: datetime
) -> dict[str, Any] | None:
    """The job's failures of the last 24 hours, summed up (None when there were none)."""
    entries = await logs.since(source, job_id, graph_timestamp(now - SUMMARY_WINDOW))
    if not entries:
        return None
    codes = Counter(_error(entry.document).get("errorCode") or "unknown" for entry in entries)
    examples: dict[str, dict[str, Any]] = {}
    for entry in entries:  # newest first: each code's example is its newest failure
        code = _error(entry.document).get("errorCode") or "unknown"
        examples.setdefault(code, _example(entry.document))
    kinds = {mapping(entry.document.get("sourceIdentity")).get("identityType") for entry in entries}
    return {
        "failedObjects": len(entries),
        "identityTypes": sorted(k for k in kinds if isinstance(k, str))
        if None not in kinds
        else [],
        "topErrors": [
            {"errorCode": code, "count": count, "example": examples[code]}
            for code, count in codes.most_common(TOP_ERRORS)
        ],
    }


def _error(document: dict[str, Any]) -> dict[str, Any]:
    return dict(mapping(mapping(document.get("provisioningStatusInfo")).get("errorInformation")))


def _example(document: dict[str, Any]) -> dict[str, Any]:
    error = _error(document)
    return {
        "sourceIdentity": mapping(document.get("sourceIdentity")).get("displayName"),
        "provisioningAction": document.get("provisioningAction"),
        "reason": error.get("reason"),
        "recommendedAction": error.get("recommendedAction"),
    }


def _log_entry(document: dict[str, Any]) -> LogEntry | None:
    """A failure as kept, keyed by its time and id; one that cannot be is skipped."""
    entry_id, at = document.get("id"), document.get("activityDateTime")
    try:
        if not isinstance(entry_id, str) or not isinstance(at, str):
            raise ValueError("no id or activityDateTime")
        validate_key(entry_id)
        parse_timestamp(at)
        return LogEntry(at, entry_id, document)
    except (InvalidKeyError, ValueError) as error:
        logger.warning("A provisioning log entry cannot be kept: %s", error)
        return None
