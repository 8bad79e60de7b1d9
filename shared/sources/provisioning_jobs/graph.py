"""What provisioning jobs read from Graph (v1.0): each service principal's jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.graph.errors import GraphError

if TYPE_CHECKING:
    from shared.graph.client import GraphClient


async def fetch_jobs(graph: GraphClient, service_principal_id: str) -> list[Any] | GraphError:
    """Every job of ``GET /v1.0/servicePrincipals/{id}/synchronization/jobs`` (all pages), or
    the GraphError the listing failed with."""
    pages = graph.get_pages(
        "{+baseurl}/v1.0/servicePrincipals/{id}/synchronization/jobs",
        {"id": service_principal_id},
    )
    try:
        return [job async for page in pages for job in page]
    except GraphError as error:
        return error
