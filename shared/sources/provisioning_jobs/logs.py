"""Reading failures from the provisioning logs (``GET /v1.0/auditLogs/provisioning``,
provisioningObjectSummary): tenant-wide, one query per poll for the failures since the last
read, not per job, because Graph allows identity reports only 5 requests per 10 seconds per
app and tenant. The read is paced to stay within that budget (the Graph client's
``report_pacer``, shared by the process's polls), bounded in pages and time, and
never fails the jobs' poll: how it went is reported on the source's health entry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.core.health import mapping
from shared.core.time import filter_timestamp, parse_timestamp
from shared.graph.errors import GraphError

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)

# A poll reads at most this many pages (newest first) and for at most this long.
MAX_PAGES = 20
PAGE_SIZE = 500
MAX_READ_SECONDS = 90.0
# The first read looks back this far; later ones overlap the previous by a margin, because
# entries reach the logs late (Graph promises no latency) and are kept by id anyway.
FIRST_LOOK_BACK = timedelta(hours=24)
OVERLAP = timedelta(minutes=30)

_URL = "{+baseurl}/v1.0/auditLogs/provisioning?%24filter={filter}&%24top={top}"


@dataclass
class LogRead:
    """What one read of the provisioning logs found: failures by jobId, and how it went."""

    since: str
    # By (service principal id, lower case, or None; job id).
    failures: dict[tuple[str | None, str], list[dict[str, Any]]] = field(default_factory=dict)
    requests: int = 0
    # read | partial (stopped at the page or time bound) | throttled | refused | failed
    outcome: str = "read"
    error: GraphError | None = None

    @property
    def complete(self) -> bool:
        return self.outcome == "read"

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "outcome": self.outcome,
            "since": self.since,
            "requests": self.requests,
            "failures": sum(len(entries) for entries in self.failures.values()),
        }
        if self.error is not None:
            report["error"] = self.error.to_json()
        return report


def read_since(last_read: str | None, now: datetime) -> datetime:
    """Where a read starts: the last read's start less the overlap, or 24 h back."""
    if last_read is None:
        return now - FIRST_LOOK_BACK
    try:
        start = parse_timestamp(last_read) - OVERLAP
    except ValueError:
        return now - FIRST_LOOK_BACK
    return max(start, now - FIRST_LOOK_BACK)


async def read_failures(graph: GraphClient, since: datetime) -> LogRead:
    """The failures logged since ``since``, grouped by jobId, following nextLink within the
    budget; whatever was read before a failure is kept."""
    moment = filter_timestamp(since)
    read = LogRead(since=moment)
    # Filters are case-sensitive: the status is 'failure', lower case.
    query = f"activityDateTime ge {moment} and provisioningStatusInfo/status eq 'failure'"
    try:
        async with asyncio.timeout(MAX_READ_SECONDS):
            await _read_pages(graph, query, read)
    except TimeoutError:
        read.outcome = "partial" if read.failures or read.requests > 1 else "failed"
    except GraphError as error:
        read.error = error
        if error.status == 429:
            read.outcome = "throttled"
        elif error.is_refusal:
            read.outcome = "refused"  # no AuditLog.Read.All, or no Entra ID P1 licence
        else:
            read.outcome = "failed"
        logger.warning("The provisioning logs could not be read: %s", error)
    return read


async def _read_pages(graph: GraphClient, query: str, read: LogRead) -> None:
    await graph.report_pacer.wait()
    read.requests += 1
    # Each request once (a 429 ends the read: the next poll reads on), so that every request
    # Graph counts against the report budget took its own grant of it.
    page: dict[str, Any] | None = await graph.get_json(
        _URL, {"filter": query, "top": str(PAGE_SIZE)}, once=True
    )
    pages = graph.listing(_URL)
    while page is not None:
        _group(page.get("value"), read.failures)
        if not page.get("@odata.nextLink"):
            return
        if read.requests >= MAX_PAGES:
            # The newest failures are in; the next poll reads again from the same point.
            read.outcome = "partial"
            return
        await graph.report_pacer.wait()
        read.requests += 1
        page = await graph.get_page_after(page, pages, once=True)


def _group(entries: Any, failures: dict[tuple[str | None, str], list[dict[str, Any]]]) -> None:
    if not isinstance(entries, list):
        raise GraphError(200, "invalidResponse", "A provisioning log page has no 'value' array.")
    for entry in entries:
        job_id = entry.get("jobId") if isinstance(entry, dict) else None
        if isinstance(job_id, str) and job_id:
            sp_id = mapping(entry.get("servicePrincipal")).get("id")
            sp_id = sp_id.lower() if isinstance(sp_id, str) else None
            failures.setdefault((sp_id, job_id), []).append(entry)
