"""The routes of directory synchronization, under ``/api``, mirroring Graph's paths and
shapes: the organization as Graph (beta) sent it (the sync fields the poll reads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.core.api import ApiCall, Reply
from shared.core.errors import NotFoundError
from shared.sources.base import Operation, Services
from shared.sources.directory_synchronization.const import GRAPH_VERSION
from shared.sources.documents import document_reply
from shared.storage.keys import validate_key

if TYPE_CHECKING:
    from shared.sources.directory_synchronization.source import DirectorySynchronization

ORGANIZATION_ROUTE = "organization"


class OrganizationRoutes:
    """The handlers, bound to the source whose cache they read."""

    def __init__(self, source: DirectorySynchronization) -> None:
        self._source = source

    def operations(self) -> tuple[Operation, ...]:
        one = ORGANIZATION_ROUTE + "/{id}"
        return (
            Operation("list_organization", ORGANIZATION_ROUTE, "GET", self.list_organization),
            Operation("get_organization", one, "GET", self.get_organization),
        )

    async def list_organization(self, call: ApiCall, services: Services) -> Reply:
        """``GET /api/organization``: the cached organization, as Graph sent it."""
        organizations = await self._source.cached_items(services.store)
        base = services.settings.graph_base_url
        body = {
            "@odata.context": f"{base}/{GRAPH_VERSION}/$metadata#{ORGANIZATION_ROUTE}",
            "value": [organization.resource for organization in organizations],
        }
        return Reply(body)

    async def get_organization(self, call: ApiCall, services: Services) -> Reply:
        """``GET /api/organization/{id}``."""
        organization_id = validate_key(call.route.get("id", ""))
        organization = await self._source.cached(services.store, organization_id)
        if organization is None:
            raise NotFoundError(f"No organization with id '{organization_id}' is cached.")
        context = f"/{GRAPH_VERSION}/$metadata#{ORGANIZATION_ROUTE}/$entity"
        return document_reply(organization, services.settings, context)
