"""A job's failures from the provisioning logs: kept per job (the newest 500, at most 30
days), and summed up for its row: the objects that failed in the last 24 hours (each
counted once, however often the service retried it), the top error codes with how many
objects each, and one example of each (the newest)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from shared.core.errors import InvalidKeyError
from shared.core.health import mapping
from shared.core.time import graph_timestamp, parse_timestamp
from shared.storage.item_logs import ITEM_LOGS_KEPT, ItemLogTable, LogEntry
from shared.storage.keys import validate_key

logger = logging.getLogger(__name__)

KEPT_PER_JOB = 500
SUMMARY_WINDOW = timedelta(hours=24)
TOP_ERRORS = 3
# What a summary reads of each failure, kept beside it (no need to read whole documents).
_OBJECT, _KIND, _CODE = "objectId", "identityType", "errorCode"
_EXAMPLE = ("sourceIdentity", "provisioningAction", "reason", "recommendedAction")
_COLUMNS = [_OBJECT, _KIND, _CODE, *_EXAMPLE]
# A Table property holds 64 KiB; a summary's example needs far less.
_MAX_COLUMN = 2000


async def keep_failures(
    logs: ItemLogTable, source: str, key: str, documents: list[dict[str, Any]], now: datetime
) -> str:
    """Keep a job's new failures (one seen before is rewritten), drop the oldest past the
    newest KEPT_PER_JOB and those older than ITEM_LOGS_KEPT; return when the newest was."""
    entries = [entry for entry in map(_log_entry, documents) if entry is not None]
    await logs.add(source, key, entries)
    await logs.trim(source, key, keep=KEPT_PER_JOB, before=graph_timestamp(now - ITEM_LOGS_KEPT))
    return max((graph_timestamp(parse_timestamp(e.at)) for e in entries), default="")


async def summarize_failures(
    logs: ItemLogTable, source: str, key: str, now: datetime
) -> dict[str, Any] | None:
    """The job's failures of the last 24 hours, summed up (None when there were none)."""
    since = graph_timestamp(now - SUMMARY_WINDOW)
    entries = await logs.columns_since(source, key, since, _COLUMNS)
    if not entries:
        return None
    objects_by_code: dict[str, set[str]] = {}
    examples: dict[str, dict[str, Any]] = {}
    for entry in entries:  # newest first: each code's example is its newest failure
        code = entry.columns[_CODE] or "unknown"
        objects_by_code.setdefault(code, set()).add(entry.columns[_OBJECT] or entry.id)
        examples.setdefault(code, {name: entry.columns[name] or None for name in _EXAMPLE})
    counts = Counter({code: len(objects) for code, objects in objects_by_code.items()})
    kinds = {entry.columns[_KIND] for entry in entries}
    return {
        "failedObjects": len({entry.columns[_OBJECT] or entry.id for entry in entries}),
        "identityTypes": sorted(kinds) if "" not in kinds else [],
        "topErrors": [
            {"errorCode": code, "count": count, "example": examples[code]}
            for code, count in counts.most_common(TOP_ERRORS)
        ],
    }


def _log_entry(document: dict[str, Any]) -> LogEntry | None:
    """A failure as kept, keyed by its time and id; one that cannot be is skipped."""
    entry_id, at = document.get("id"), document.get("activityDateTime")
    try:
        if not isinstance(entry_id, str) or not isinstance(at, str):
            raise ValueError("no id or activityDateTime")
        validate_key(entry_id)
        parse_timestamp(at)
    except (InvalidKeyError, ValueError) as error:
        logger.warning("A provisioning log entry cannot be kept: %s", error)
        return None
    identity = mapping(document.get("sourceIdentity"))
    error = mapping(mapping(document.get("provisioningStatusInfo")).get("errorInformation"))
    values = {
        _OBJECT: identity.get("id"),
        _KIND: identity.get("identityType"),
        _CODE: error.get("errorCode"),
        "sourceIdentity": identity.get("displayName"),
        "provisioningAction": document.get("provisioningAction"),
        "reason": error.get("reason"),
        "recommendedAction": error.get("recommendedAction"),
    }
    columns = {k: v[:_MAX_COLUMN] for k, v in values.items() if isinstance(v, str) and v}
    return LogEntry(at, entry_id, document, columns)
