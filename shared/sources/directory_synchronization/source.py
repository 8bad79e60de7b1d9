"""Directory synchronization (Entra Connect) as a source: what the registry lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from shared.core.health import HealthRule
from shared.settings import Settings
from shared.sources.base import Observation, Operation
from shared.sources.directory_synchronization.cached import CachedOrganization
from shared.sources.directory_synchronization.const import NAME
from shared.sources.directory_synchronization.health import HEALTH_RULES, organization_reason
from shared.sources.directory_synchronization.poll import observe_organization
from shared.sources.directory_synchronization.routes import ORGANIZATION_ROUTE, OrganizationRoutes
from shared.sources.directory_synchronization.settings import (
    ENABLE_SETTING,
    STALE_AFTER_SETTING,
    DirectorySynchronizationSettings,
    read_settings,
)
from shared.sources.documents import DocumentSource
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.core.openapi import OpenApiPart
    from shared.graph.client import GraphClient
    from shared.storage.source_state import SourceState


class DirectorySynchronization(DocumentSource[CachedOrganization]):
    name = NAME
    title = "Entra Connect directory synchronization"
    permission = "Organization.Read.All"
    enable_hint = ENABLE_SETTING
    tenant_options = (STALE_AFTER_SETTING,)
    health_rules: ClassVar[tuple[HealthRule, ...]] = HEALTH_RULES
    reason = staticmethod(organization_reason)
    entry_type = CachedOrganization

    def read_settings(self, env: Mapping[str, str]) -> DirectorySynchronizationSettings:
        return read_settings(env)

    async def observe(
        self,
        graph: GraphClient,
        cached: dict[str, StoredItem],
        settings: Settings,
        state: SourceState,
    ) -> Observation:
        own: DirectorySynchronizationSettings = self.own_settings(settings)
        return await observe_organization(self, graph, own.stale_after_minutes)

    def item_path(self, item_id: str) -> str:
        return f"/api/{ORGANIZATION_ROUTE}/{quote(item_id, safe='')}"

    def operations(self) -> tuple[Operation, ...]:
        return OrganizationRoutes(self).operations()

    def openapi(self) -> OpenApiPart:
        from shared.sources.directory_synchronization.openapi import OPENAPI  # built on first use

        return OPENAPI

    def name_of_resource(self, resource: dict[str, Any]) -> str | None:
        return resource.get("displayName") or resource.get("id")

    def status_of_resource(self, resource: dict[str, Any]) -> str | None:
        # The raw status in rows: whether the directory is synced, not the sync times (a
        # change event per sync would drown the ones that matter).
        enabled = resource.get("onPremisesSyncEnabled")
        return {True: "syncEnabled", False: "syncTurnedOff"}.get(enabled, "cloudOnly")
