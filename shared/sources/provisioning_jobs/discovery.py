"""Which service principals have provisioning jobs, found by asking them all: Graph has no
tenant-wide list of jobs. Every principal is listed (``$select=id,appId,displayName``) and
asked for its jobs through JSON ``$batch`` (20 to a batch); those with jobs are kept in the
source's state, so the regular poll asks only them. A principal without jobs, or one that
refuses (403, 404), is simply not monitored. Discovery runs on the first poll and then at
most every PROVISIONING_DISCOVERY_INTERVAL_HOURS.

With object ids named in the settings there is nothing to discover: only those principals'
names are read (for the rows' names), on the same schedule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.core.time import graph_timestamp, parse_timestamp
from shared.graph.batch import MAX_BATCH_REQUESTS
from shared.graph.errors import GraphError
from shared.settings import OBJECT_ID

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.sources.provisioning_jobs.settings import ProvisioningJobsSettings
    from shared.storage.source_state import SourceState

logger = logging.getLogger(__name__)

STATE_NAME = "discovery"
# Commas escaped: the URL template would drop them.
_LISTING = "{+baseurl}/v1.0/servicePrincipals?%24select=id%2CappId%2CdisplayName&%24top=999"


@dataclass
class Principals:
    """The service principals whose jobs a poll reads: id -> displayName (None: unknown)."""

    names: dict[str, str | None] = field(default_factory=dict)
    # What discovery saw, for the source's health entry (counts and codes only).
    report: dict[str, Any] = field(default_factory=dict)
    # Discovery could not list the principals and none were found before.
    error: GraphError | None = None


async def principals_to_poll(
    graph: GraphClient, state: SourceState, settings: ProvisioningJobsSettings, now: str
) -> Principals:
    """The principals to poll: those named in the settings, or those discovery found (again
    when it is due)."""
    kept = await state.load(STATE_NAME) or {}
    due = _due(kept, settings, now)
    if settings.service_principal_ids:
        names = dict.fromkeys(settings.service_principal_ids)
        known = kept.get("servicePrincipals") or {}
        if not due:
            return Principals({i: known.get(i) for i in names}, _last_report(kept))
        read = await _names_of(graph, list(names))
        names |= {i: read.get(i, known.get(i)) for i in names}
        report = {"discoveredDateTime": now, "servicePrincipals": len(names)}
        await state.save(STATE_NAME, {**report, "servicePrincipals": names})
        return Principals(names, report)
    if not due:
        return Principals(dict(kept.get("servicePrincipals") or {}), _last_report(kept))
    return await _discover(graph, state, kept, now)


async def _discover(
    graph: GraphClient, state: SourceState, kept: dict[str, Any], now: str
) -> Principals:
    before: dict[str, str | None] = dict(kept.get("servicePrincipals") or {})
    try:
        listed, pages = await _list_principals(graph)
    except GraphError as error:
        logger.warning("Discovery could not list service principals: %s", error)
        report = {**_last_report(kept), "error": error.to_json()}
        return Principals(before, report, error=None if before else error)
    paths = [f"/servicePrincipals/{sp_id}/synchronization/jobs" for sp_id in listed]
    answers = await graph.get_many("v1.0", paths)
    found: dict[str, str | None] = {}
    refused = failed = 0
    for (sp_id, name), answer in zip(listed.items(), answers, strict=True):
        if isinstance(answer, GraphError):
            if answer.is_refusal:
                refused += 1  # no jobs API on this principal, or not for us: not monitored
            else:
                failed += 1
                if sp_id in before:  # a passing failure keeps what was found before
                    found[sp_id] = name
            continue
        jobs = answer.get("value")
        if isinstance(jobs, list) and jobs:
            found[sp_id] = name
    report = {
        "discoveredDateTime": now,
        "servicePrincipals": len(listed),
        "withJobs": len(found),
        "refused": refused,
        "failed": failed,
        "listingPages": pages,
        "batchRequests": -(-len(paths) // MAX_BATCH_REQUESTS),
    }
    await state.save(STATE_NAME, {**report, "servicePrincipals": found})
    logger.info("Discovered %d service principals with jobs among %d", len(found), len(listed))
    return Principals(found, report)


async def _list_principals(graph: GraphClient) -> tuple[dict[str, str | None], int]:
    """Every service principal (id -> displayName), and how many pages that took."""
    listed: dict[str, str | None] = {}
    pages = 0
    async for page in graph.get_pages(_LISTING, {}):
        pages += 1
        for principal in page:
            sp_id = principal.get("id") if isinstance(principal, dict) else None
            if isinstance(sp_id, str) and OBJECT_ID.fullmatch(sp_id):
                name = principal.get("displayName")
                listed[sp_id.lower()] = name if isinstance(name, str) else None
    return listed, pages


async def _names_of(graph: GraphClient, ids: list[str]) -> dict[str, str]:
    """The displayNames of named principals (those that could be read)."""
    paths = [f"/servicePrincipals/{sp_id}?%24select=id,displayName" for sp_id in ids]
    answers = await graph.get_many("v1.0", paths)
    return {
        sp_id: answer["displayName"]
        for sp_id, answer in zip(ids, answers, strict=True)
        if isinstance(answer, dict) and isinstance(answer.get("displayName"), str)
    }


def _due(kept: dict[str, Any], settings: ProvisioningJobsSettings, now: str) -> bool:
    """Discovery is due on the first poll, when the named ids changed, and once its
    interval has passed."""
    last = kept.get("discoveredDateTime")
    if not isinstance(last, str):
        return True
    named = set(settings.service_principal_ids)
    if named and set(kept.get("servicePrincipals") or {}) != named:
        return True
    if not named and "withJobs" not in kept:
        return True  # what was kept came from named ids
    interval = timedelta(hours=settings.discovery_interval_hours)
    return graph_timestamp(parse_timestamp(last) + interval) <= now


def _last_report(kept: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kept.items() if key != "servicePrincipals"}
