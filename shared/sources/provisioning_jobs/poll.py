"""How a poll reads provisioning jobs: the jobs of every service principal that has them
(named in the settings, or found by discovery), side by side (the Graph client bounds how
many requests are in flight), then the provisioning logs' failures when they are read. A job
whose id may not go into a Graph path (``shared/core/graph_ids.py``) is left out, counted on
the source's health entry: it could not be acted on or read back safely."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from shared.core.graph_ids import UNSAFE_ID_CODE, UnsafeIds
from shared.graph.errors import GraphError
from shared.sources.base import Observation, usable_entries
from shared.sources.provisioning_jobs.const import JOB_KEY_SEPARATOR
from shared.sources.provisioning_jobs.graph import fetch_jobs
from shared.sources.provisioning_jobs.ids import job_key, split_job_key
from shared.sources.provisioning_jobs.models import CheckedSynchronizationJob
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.sources.provisioning_jobs.source import ProvisioningJobs

logger = logging.getLogger(__name__)


async def observe_jobs(
    source: ProvisioningJobs,
    graph: GraphClient,
    cached: dict[str, StoredItem],
    principals: dict[str, str | None],
    stall_after_hours: float,
) -> Observation:
    """The jobs of every service principal to poll (id -> its name). One that fails keeps its
    jobs' last values (unread, not removed); jobs of a service principal no longer polled are
    removed; the source is an error as a whole only when not one answered."""
    seen = Observation()
    configured = tuple(principals)
    listings = await asyncio.gather(*(fetch_jobs(graph, sp_id) for sp_id in configured))
    covered: set[str] = set()
    errors: list[GraphError] = []
    unsafe = UnsafeIds()
    for sp_id, listing in zip(configured, listings, strict=True):
        if isinstance(listing, GraphError):
            seen.failures[sp_id] = listing.code
            prefix = sp_id + JOB_KEY_SEPARATOR
            seen.unread |= {key: listing.code for key in cached if key.startswith(prefix)}
            errors.append(listing)
            logger.warning("Jobs of service principal %s not updated: %s", sp_id, listing)
            continue
        seen.listed += len(listing)
        failures_before = len(seen.failures)
        left_out = 0
        for job, item in usable_entries(listing, CheckedSynchronizationJob, seen.failures):
            if not unsafe.admits(job.id):
                logger.warning("A job of %s has an unsafe id: %.80r", sp_id, job.id)
                left_out += 1
                continue
            key = job_key(sp_id, job.id)
            entry = source.entry(key, item)
            entry.principal_name = principals[sp_id]
            entry.stall_after_hours = stall_after_hours
            seen.entries[key] = entry
        if len(seen.failures) == failures_before:
            covered.add(sp_id)  # a job left out for its id is known not to be cacheable
        for _ in range(left_out):
            seen.failures[f"#unsafe-id-{len(seen.failures)}"] = UNSAFE_ID_CODE
    if unsafe:
        seen.details["unsafeIds"] = unsafe.report()
    if errors and len(errors) == len(configured):
        seen.error = errors[0]  # not one service principal answered
    listed = set(seen.entries)

    def removable(item_id: str) -> bool:
        sp_id = split_job_key(item_id)[0]
        return sp_id not in configured or (sp_id in covered and item_id not in listed)

    seen.removable = removable
    return seen
