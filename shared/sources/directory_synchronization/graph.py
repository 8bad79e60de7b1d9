"""What directory synchronization reads from Graph (beta): the tenant's organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shared.sources.directory_synchronization.const import GRAPH_VERSION, ORGANIZATION_FIELDS

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

# Commas escaped: the URL template would drop them.
_SELECT = "%2C".join(ORGANIZATION_FIELDS)


def fetch_organization_pages(graph: GraphClient) -> AsyncIterator[list[dict[str, Any]]]:
    """``GET /beta/organization`` with the sync fields only (one organization per tenant)."""
    return graph.get_pages(f"{{+baseurl}}/{GRAPH_VERSION}/organization?%24select={_SELECT}", {})
