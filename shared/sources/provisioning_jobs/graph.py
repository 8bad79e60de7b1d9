"""What provisioning jobs read from and send to Graph (v1.0): each service principal's jobs,
and one job (its actions and read-back). Every id goes into the path through
``graph_segment`` (checked and escaped: see ``shared/core/graph_ids.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.core.graph_ids import UNSAFE_ID_CODE, UnsafeGraphIdError, graph_segment
from shared.graph.errors import GraphError

if TYPE_CHECKING:
    from shared.graph.client import GraphClient


def jobs_url(service_principal_id: str) -> str:
    """``/v1.0/servicePrincipals/{id}/synchronization/jobs``, as a URL template."""
    sp = graph_segment(service_principal_id, name="servicePrincipalId")
    return f"{{+baseurl}}/v1.0/servicePrincipals/{sp}/synchronization/jobs"


def job_url(service_principal_id: str, job_id: str) -> str:
    """``.../synchronization/jobs/{jobId}``, as a URL template (UnsafeGraphIdError for an id
    that may not go into a path)."""
    return f"{jobs_url(service_principal_id)}/{graph_segment(job_id, name='jobId')}"


async def fetch_jobs(graph: GraphClient, service_principal_id: str) -> list[Any] | GraphError:
    """Every job of ``GET /v1.0/servicePrincipals/{id}/synchronization/jobs`` (all pages), or
    the GraphError the listing failed with."""
    try:
        pages = graph.get_pages(jobs_url(service_principal_id), {})
        return [job async for page in pages for job in page]
    except GraphError as error:
        return error
    except UnsafeGraphIdError as error:  # not from the settings or discovery: never sent
        return GraphError(None, UNSAFE_ID_CODE, error.message)
