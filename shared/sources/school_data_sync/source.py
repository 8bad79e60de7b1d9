"""School Data Sync (classic) as a source: what the registry lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from shared.core.health import HealthRule
from shared.settings import Settings
from shared.sources.base import Observation, Operation, Source
from shared.sources.school_data_sync.cached import (
    PROFILE_PART,
    STATUS_FIELDS,
    listed_display_name,
)
from shared.sources.school_data_sync.const import NAME, RETIRED_MESSAGE
from shared.sources.school_data_sync.health import HEALTH_RULES, profile_reason
from shared.sources.school_data_sync.poll import observe_profiles
from shared.sources.school_data_sync.profiles import profile_path
from shared.sources.school_data_sync.routes import OPERATIONS
from shared.sources.school_data_sync.settings import (
    ENABLE_SETTING,
    SchoolDataSyncSettings,
    read_settings,
)
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.core.openapi import OpenApiPart
    from shared.graph.client import GraphClient
    from shared.graph.errors import GraphError
    from shared.storage.source_state import SourceState


class SchoolDataSync(Source):
    name = NAME
    title = "School Data Sync (classic) profiles"
    permission = "EduAdministration.Read.All"
    enable_hint = ENABLE_SETTING
    health_rules: ClassVar[tuple[HealthRule, ...]] = HEALTH_RULES
    reason = staticmethod(profile_reason)
    summary_parts = (PROFILE_PART,)

    def read_settings(self, env: Mapping[str, str]) -> SchoolDataSyncSettings:
        return read_settings(env)

    async def observe(
        self,
        graph: GraphClient,
        cached: dict[str, StoredItem],
        settings: Settings,
        state: SourceState,
    ) -> Observation:
        return await observe_profiles(graph)

    def document_in(self, item: StoredItem) -> dict[str, Any]:
        """The profile's status as Graph sent it (or as PATCHed since)."""
        return item.fields(STATUS_FIELDS)

    def is_retirement(self, error: GraphError) -> bool:
        """SDS (classic) is being retired: once Graph no longer knows the API, its listing
        answers 400 "Resource not found for the segment 'synchronizationProfiles'", or 404
        or 410. A 401 or 403 is a missing permission, not a retirement."""
        if error.status in (404, 410):
            return True
        return error.status == 400 and RETIRED_MESSAGE in error.message

    def item_path(self, item_id: str) -> str:
        return profile_path(item_id)

    def operations(self) -> tuple[Operation, ...]:
        return OPERATIONS

    def openapi(self) -> OpenApiPart:
        from shared.sources.school_data_sync.openapi import OPENAPI  # built on first use

        return OPENAPI

    def display_name_of(self, item: StoredItem) -> str | None:
        return listed_display_name(item)
