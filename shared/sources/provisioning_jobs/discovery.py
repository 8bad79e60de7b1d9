"""Which service principals have provisioning jobs, found by asking them all: Graph has no
tenant-wide list of jobs. Every principal is listed (``$select=id,appId,displayName``) and
asked for its jobs through JSON ``$batch`` (20 to a batch); those with jobs are kept in the
source's state, so the regular poll asks only them. A principal without jobs, or one that
refuses (403, 404), is simply not monitored. Discovery runs on the first poll and then at
most every PROVISIONING_DISCOVERY_INTERVAL_HOURS.

With object ids named in the settings there is nothing to discover: only those principals'
names are read (for the rows' names; that needs Application.Read.All too), on the same
schedule. A discovery in which not one principal would show its jobs (401/403) is the
permission missing: the source is unavailable, nothing is kept, and it is tried again at
the next poll. Principals that failed for a passing reason (throttled, a 5xx, a ``$batch``
answer whose ids do not match the requests) are asked again at each poll until they answer,
and counted (``failed``, ``failedCodes``): when more than a tenth of the principals failed,
the source's poll is partial (degraded on /api/health); when every one failed and none was
known before, nothing was read and the source is unavailable.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.core.env import OBJECT_ID
from shared.core.graph_ids import graph_segment
from shared.core.time import graph_timestamp, parse_timestamp
from shared.graph.batch import MAX_BATCH_REQUESTS
from shared.graph.errors import GraphError

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.sources.provisioning_jobs.settings import ProvisioningJobsSettings
    from shared.storage.source_state import SourceState

logger = logging.getLogger(__name__)

STATE_NAME = "discovery"
# More than this share of the principals failing makes the source's poll partial: too many
# may have jobs that go unwatched until they answer.
FAILED_SHARE_PARTIAL = 0.1
# The placeholder id under which an incomplete discovery counts in a poll's failures.
DISCOVERY_INCOMPLETE = "#discovery"
# Commas escaped: the URL template would drop them.
_LISTING = "{+baseurl}/v1.0/servicePrincipals?%24select=id%2CappId%2CdisplayName&%24top=999"


@dataclass
class Principals:
    """The service principals whose jobs a poll reads: id -> displayName (None: unknown)."""

    names: dict[str, str | None] = field(default_factory=dict)
    # What discovery saw, for the source's health entry (counts and codes only).
    report: dict[str, Any] = field(default_factory=dict)
    # Discovery could not list the principals (or ask any) and none were found before.
    error: GraphError | None = None

    @property
    def incomplete(self) -> bool:
        """Too many principals could not be asked: jobs may be missing from the poll."""
        failed = self.report.get("failed")
        total = self.report.get("servicePrincipals")
        if not isinstance(failed, int) or not isinstance(total, int) or failed <= 0:
            return False
        return failed > FAILED_SHARE_PARTIAL * total


async def principals_to_poll(
    graph: GraphClient, state: SourceState, settings: ProvisioningJobsSettings, now: str
) -> Principals:
    """The principals to poll: those named in the settings, or those discovery found (again
    when it is due; between discoveries, those it could not ask are asked again)."""
    kept = await state.load(STATE_NAME) or {}
    due = _due(kept, settings, now)
    if settings.service_principal_ids:
        return await _named(graph, state, kept, settings.service_principal_ids, due, now)
    if due:
        return await _discover(graph, state, kept, now)
    principals = Principals(dict(kept.get("servicePrincipals") or {}), _last_report(kept))
    if kept.get("retry"):
        await _ask_again(graph, state, kept, principals)
    return principals


async def _named(
    graph: GraphClient,
    state: SourceState,
    kept: dict[str, Any],
    ids: tuple[str, ...],
    due: bool,
    now: str,
) -> Principals:
    """Named principals, with their names read once a discovery interval: reading them needs
    Application.Read.All, without which rows are named after the job's kind and id."""
    known = kept.get("servicePrincipals") or {}
    if not due:
        return Principals({i: known.get(i) for i in ids}, _last_report(kept))
    read = await _names_of(graph, list(ids))
    names = {i: read.get(i, known.get(i)) for i in ids}
    report = {"discoveredDateTime": now, "servicePrincipals": len(ids), "namesRead": len(read)}
    await state.save(STATE_NAME, {**report, "servicePrincipals": names})
    return Principals(names, report)


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
    asked = await _ask(graph, listed)
    if asked.denied is not None and not asked.answered:
        # Not one principal would show its jobs: the app lacks the permission, which is an
        # outage to report, not a tenant without jobs (nothing kept, asked again next poll).
        report = {**_last_report(kept), "error": asked.denied.to_json()}
        return Principals(before, report, error=asked.denied)
    if listed and not asked.answered and not before:
        # Not one principal answered (throttled, or a $batch answer that matched no request):
        # nothing was read, which is an outage, not a tenant without jobs (asked next poll).
        failure = asked.first_failure or GraphError(None, "discoveryFailed", "No answer.")
        error = GraphError(
            failure.status,
            failure.code,
            f"Discovery could ask none of the {len(listed)} service principals for their "
            f"jobs: {failure.message}",
            retry_after=failure.retry_after,
        )
        report = {**_last_report(kept), "failed": len(asked.retry), "error": error.to_json()}
        return Principals(before, report, error=error)
    found = asked.found | {sp_id: listed[sp_id] for sp_id in asked.retry if sp_id in before}
    report = {
        "discoveredDateTime": now,
        "servicePrincipals": len(listed),
        "withJobs": len(found),
        "refused": asked.refused,
        "failed": len(asked.retry),
        "failedCodes": dict(asked.failed_codes),
        "listingPages": pages,
        "batchRequests": -(-len(listed) // MAX_BATCH_REQUESTS),
    }
    await state.save(STATE_NAME, {**report, "servicePrincipals": found, "retry": asked.retry})
    logger.info("Discovered %d service principals with jobs among %d", len(found), len(listed))
    return Principals(found, report)


@dataclass
class _Asked:
    """What principals answered when asked for their jobs."""

    found: dict[str, str | None] = field(default_factory=dict)
    answered: int = 0
    refused: int = 0
    # A 401 or 403, when one came: the permission may be missing.
    denied: GraphError | None = None
    # Principals that failed for a passing reason (throttled, 5xx), to ask again.
    retry: dict[str, str | None] = field(default_factory=dict)
    failed_codes: Counter[str] = field(default_factory=Counter)
    first_failure: GraphError | None = None


async def _ask(graph: GraphClient, principals: dict[str, str | None]) -> _Asked:
    """Ask each principal for its jobs, 20 to a $batch."""
    paths = [f"/servicePrincipals/{graph_segment(i)}/synchronization/jobs" for i in principals]
    answers = await graph.get_many("v1.0", paths)
    asked = _Asked()
    for (sp_id, name), answer in zip(principals.items(), answers, strict=True):
        if isinstance(answer, GraphError):
            if not answer.is_refusal:
                asked.retry[sp_id] = name
                asked.failed_codes[answer.code] += 1
                asked.first_failure = asked.first_failure or answer
                continue
            asked.refused += 1  # no jobs API on this principal, or not for us: not monitored
            if answer.status in (401, 403) and asked.denied is None:
                asked.denied = answer
            continue
        asked.answered += 1
        jobs = answer.get("value")
        if isinstance(jobs, list) and jobs:
            asked.found[sp_id] = name
    return asked


async def _ask_again(
    graph: GraphClient, state: SourceState, kept: dict[str, Any], principals: Principals
) -> None:
    """Ask again the principals the last discovery could not ask (between discoveries)."""
    asked = await _ask(graph, dict(kept["retry"]))
    principals.names |= asked.found
    kept["servicePrincipals"] = principals.names
    kept["retry"] = asked.retry
    kept["withJobs"] = len(principals.names)
    kept["failed"] = len(asked.retry)
    kept["failedCodes"] = dict(asked.failed_codes)
    principals.report = _last_report(kept)
    await state.save(STATE_NAME, kept)


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
    paths = [f"/servicePrincipals/{graph_segment(i)}?%24select=id,displayName" for i in ids]
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
    return {key: value for key, value in kept.items() if key not in ("servicePrincipals", "retry")}
