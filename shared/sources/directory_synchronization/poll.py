"""How a poll reads the organization: one listing (a tenant has one organization)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.graph.errors import GraphError
from shared.sources.base import Observation, usable_entries
from shared.sources.directory_synchronization.cached import CachedOrganization
from shared.sources.directory_synchronization.graph import fetch_organization_pages
from shared.sources.directory_synchronization.models import CheckedOrganization

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.sources.directory_synchronization.source import DirectorySynchronization


async def observe_organization(
    source: DirectorySynchronization, graph: GraphClient, stale_after_minutes: int
) -> Observation:
    """The tenant's organization, with the bound its sync is judged by."""
    seen = Observation()
    organizations: list[CachedOrganization] = []
    try:
        async for page in fetch_organization_pages(graph):
            seen.listed += len(page)
            for organization, item in usable_entries(page, CheckedOrganization, seen.failures):
                entry = source.entry(organization.id, item)
                entry.stale_after_minutes = stale_after_minutes
                organizations.append(entry)
    except GraphError as error:
        seen.error = error
    if not seen.error and not seen.failures:
        listed = {organization.id for organization in organizations}
        seen.removable = lambda item_id: item_id not in listed
    seen.entries = {organization.id: organization for organization in organizations}
    return seen
