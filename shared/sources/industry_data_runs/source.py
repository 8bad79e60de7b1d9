"""Industry Data runs as a source: what the registry lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from shared.core.health import HealthRule
from shared.settings import Settings
from shared.sources.base import Observation, Operation
from shared.sources.documents import DocumentSource
from shared.sources.industry_data_runs.cached import CachedRun
from shared.sources.industry_data_runs.const import NAME
from shared.sources.industry_data_runs.health import HEALTH_RULES, run_reason
from shared.sources.industry_data_runs.poll import observe_runs
from shared.sources.industry_data_runs.routes import RUNS_ROUTE, RunRoutes
from shared.sources.industry_data_runs.settings import (
    ENABLE_SETTING,
    RUNS_KEPT_SETTING,
    IndustryDataRunsSettings,
    read_settings,
)
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.core.openapi import OpenApiPart
    from shared.graph.client import GraphClient
    from shared.storage.source_state import SourceState


class IndustryDataRuns(DocumentSource[CachedRun]):
    name = NAME
    title = "Industry Data runs"
    permission = "IndustryData-Run.Read.All"
    enable_hint = ENABLE_SETTING
    tenant_options = (RUNS_KEPT_SETTING,)
    health_rules: ClassVar[tuple[HealthRule, ...]] = HEALTH_RULES
    reason = staticmethod(run_reason)
    # A run leaves the cache when newer ones push it out of the window kept: that is not a
    # change of its status.
    reports_removals = False
    entry_type = CachedRun

    def read_settings(self, env: Mapping[str, str]) -> IndustryDataRunsSettings:
        return read_settings(env)

    async def observe(
        self,
        graph: GraphClient,
        cached: dict[str, StoredItem],
        settings: Settings,
        state: SourceState,
    ) -> Observation:
        return await observe_runs(self, graph, cached, self.own_settings(settings).runs_kept)

    def item_path(self, item_id: str) -> str:
        return f"/api/{RUNS_ROUTE}/{quote(item_id, safe='')}"

    def operations(self) -> tuple[Operation, ...]:
        return RunRoutes(self).operations()

    def openapi(self) -> OpenApiPart:
        from shared.sources.industry_data_runs.openapi import OPENAPI  # built on first use

        return OPENAPI

    def name_of_resource(self, resource: dict[str, Any]) -> str | None:
        return resource.get("displayName")

    def status_of_resource(self, resource: dict[str, Any]) -> str | None:
        return resource.get("status")
