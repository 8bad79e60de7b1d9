"""A poll's read of the provisioning logs, applied to the jobs it saw: the new failures kept
per job, and each job's summary of the last 24 hours set on its entry (its reason names the
top error). Whatever goes wrong here is reported, never raised: the jobs' statuses were read
and are written all the same."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.core.errors import StorageUnavailableError
from shared.core.time import graph_timestamp, parse_timestamp
from shared.sources.base import Observation
from shared.sources.provisioning_jobs.failures import (
    KEPT_FOR,
    SUMMARY_WINDOW,
    keep_failures,
    summarize_failures,
)
from shared.sources.provisioning_jobs.ids import split_job_key
from shared.sources.provisioning_jobs.logs import read_failures, read_since

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.storage.source_state import SourceState

logger = logging.getLogger(__name__)

STATE_NAME = "provisioningLogs"


async def explain_failures(
    source: str, graph: GraphClient, state: SourceState, seen: Observation, now: str
) -> dict[str, Any]:
    """Read the failures since the last read, keep them, and summarize each job's; return
    the report for the source's health entry."""
    try:
        return await _explain(source, graph, state, seen, now)
    except StorageUnavailableError as error:
        logger.warning("Provisioning failures not kept now: %s", error)
        return {"outcome": "failed", "error": {"code": "storageUnavailable"}}
    except Exception:
        # Whatever it is, the jobs' statuses were read: they are written all the same.
        logger.exception("Provisioning failures not read or kept")
        return {"outcome": "failed", "error": {"code": "unexpected"}}


async def _explain(
    source: str, graph: GraphClient, state: SourceState, seen: Observation, now: str
) -> dict[str, Any]:
    moment = parse_timestamp(now)
    kept = await state.load(STATE_NAME) or {}
    read = await read_failures(graph, read_since(kept.get("readDateTime"), moment))
    jobs: dict[str, list[str]] = {}
    for key in seen.entries:
        jobs.setdefault(split_job_key(key)[1], []).append(key)
    newest: dict[str, str] = dict(kept.get("newestFailure") or {})
    ignored = 0
    for job_id, entries in read.failures.items():
        if job_id not in jobs:
            ignored += len(entries)  # a job the app does not monitor
            continue
        await keep_failures(state.logs, source, job_id, entries, moment)
        times = [graph_timestamp(parse_timestamp(e["activityDateTime"])) for e in entries
                 if isinstance(e.get("activityDateTime"), str)]  # fmt: skip
        newest[job_id] = max([newest.get(job_id, ""), *times])
    if read.outcome in ("read", "partial"):
        kept["readDateTime"] = now
    oldest_kept = graph_timestamp(moment - KEPT_FOR)
    kept["newestFailure"] = {j: t for j, t in newest.items() if t >= oldest_kept}
    await state.save(STATE_NAME, kept)
    window = graph_timestamp(moment - SUMMARY_WINDOW)
    for job_id, keys in jobs.items():
        if newest.get(job_id, "") < window:
            continue  # nothing failed in the last 24 hours: no need to ask the table
        summary = await summarize_failures(state.logs, source, job_id, moment)
        for key in keys:
            seen.entries[key].failures = summary  # type: ignore[attr-defined]
    return read.report() | {"ignored": ignored}
