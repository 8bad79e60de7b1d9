"""A poll's read of the provisioning logs, applied to the jobs: the new failures kept per job
(every monitored job, read this poll or not), and each job read this poll given its summary
of the last 24 hours (its reason names the top error). Whatever goes wrong here is reported,
never raised: the jobs' statuses were read and are written all the same, with the summaries
they had."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.core.errors import StorageUnavailableError
from shared.core.time import graph_timestamp, parse_timestamp
from shared.sources.base import Observation
from shared.sources.provisioning_jobs.cached import FAILURES_PART
from shared.sources.provisioning_jobs.failures import (
    SUMMARY_WINDOW,
    keep_failures,
    summarize_failures,
)
from shared.sources.provisioning_jobs.ids import job_key, split_job_key
from shared.sources.provisioning_jobs.logs import read_failures, read_since
from shared.storage.item_logs import ITEM_LOGS_KEPT
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.storage.source_state import SourceState

logger = logging.getLogger(__name__)

STATE_NAME = "provisioningLogs"


async def explain_failures(
    source: str,
    graph: GraphClient,
    state: SourceState,
    cached: dict[str, StoredItem],
    seen: Observation,
    now: str,
) -> dict[str, Any]:
    """Read the failures since the last read, keep them, and summarize each job's; return
    the report for the source's health entry."""
    try:
        return await _explain(source, graph, state, cached, seen, now)
    except Exception as error:
        # The jobs' statuses were read: they are written all the same, with their summaries.
        if isinstance(error, StorageUnavailableError):
            logger.warning("Provisioning failures not kept now: %s", error)
        else:
            logger.exception("Provisioning failures not read or kept")
        for key, entry in seen.entries.items():
            item = cached.get(key)
            entry.failures = (item.document(FAILURES_PART) if item else None) or None  # type: ignore[attr-defined]
        code = "storageUnavailable" if isinstance(error, StorageUnavailableError) else "unexpected"
        return {"outcome": "failed", "error": {"code": code}}


async def _explain(
    source: str,
    graph: GraphClient,
    state: SourceState,
    cached: dict[str, StoredItem],
    seen: Observation,
    now: str,
) -> dict[str, Any]:
    moment = parse_timestamp(now)
    kept = await state.load(STATE_NAME) or {}
    read = await read_failures(graph, read_since(kept.get("readDateTime"), moment))
    by_job_id: dict[str, list[str]] = {}
    for key in cached.keys() | seen.entries.keys():
        by_job_id.setdefault(split_job_key(key)[1], []).append(key)
    newest: dict[str, str] = dict(kept.get("newestFailure") or {})
    ignored = 0
    for (sp_id, job_id), documents in read.failures.items():
        key = _monitored(by_job_id.get(job_id, []), sp_id, job_id)
        if key is None:
            ignored += len(documents)  # a job the app does not monitor
            continue
        at = await keep_failures(state.logs, source, key, documents, moment)
        newest[key] = max(newest.get(key, ""), at)
    if read.complete:  # a partial read is read again from the same point (entries by id)
        kept["readDateTime"] = now
    oldest_kept = graph_timestamp(moment - ITEM_LOGS_KEPT)
    kept["newestFailure"] = {k: t for k, t in newest.items() if t >= oldest_kept}
    await state.save(STATE_NAME, kept)
    window = graph_timestamp(moment - SUMMARY_WINDOW)
    for key, entry in seen.entries.items():
        recent = newest.get(key, "") >= window  # else nothing failed in 24 h: no query
        summary = await summarize_failures(state.logs, source, key, moment) if recent else None
        entry.failures = summary  # type: ignore[attr-defined]
    return read.report() | {"ignored": ignored}


def _monitored(keys: list[str], sp_id: str | None, job_id: str) -> str | None:
    """The monitored job a log entry is about: by its service principal and job id (a job
    id is unique only within its principal), or by the job id alone when one job has it."""
    if sp_id and job_key(sp_id, job_id) in keys:
        return job_key(sp_id, job_id)
    return keys[0] if len(keys) == 1 else None
