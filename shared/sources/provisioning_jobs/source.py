"""Entra ID provisioning jobs as a source: what the registry lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from shared.core.health import HealthRule
from shared.core.time import utc_now
from shared.settings import Settings
from shared.sources.base import Observation, Operation
from shared.sources.documents import DocumentSource
from shared.sources.provisioning_jobs.cached import KIND_PART, CachedJob
from shared.sources.provisioning_jobs.const import NAME
from shared.sources.provisioning_jobs.discovery import DISCOVERY_INCOMPLETE, principals_to_poll
from shared.sources.provisioning_jobs.explain import explain_failures
from shared.sources.provisioning_jobs.health import HEALTH_RULES, job_reason
from shared.sources.provisioning_jobs.ids import split_job_key
from shared.sources.provisioning_jobs.kinds import job_display_name
from shared.sources.provisioning_jobs.poll import observe_jobs
from shared.sources.provisioning_jobs.routes import JobRoutes
from shared.sources.provisioning_jobs.settings import (
    ACTIONS_SETTING,
    DISCOVERY_INTERVAL_SETTING,
    ENABLE_SETTING,
    LOGS_SETTING,
    SERVICE_PRINCIPALS_SETTING,
    STALL_AFTER_SETTING,
    ProvisioningJobsSettings,
    read_settings,
)
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.core.openapi import OpenApiPart
    from shared.graph.client import GraphClient
    from shared.storage.source_state import SourceState


class ProvisioningJobs(DocumentSource[CachedJob]):
    name = NAME
    title = "Entra ID provisioning jobs"
    permission = "Synchronization.Read.All"
    extra_permissions = (
        ("Application.Read.All", f"discovery ({SERVICE_PRINCIPALS_SETTING}=auto, the default)"),
        ("AuditLog.Read.All", f"the provisioning logs ({LOGS_SETTING}=true)"),
        ("Synchronization.ReadWrite.All", f"job actions ({ACTIONS_SETTING}=true)"),
    )
    enable_hint = ENABLE_SETTING
    summary_parts = (KIND_PART,)
    tenant_options = (
        SERVICE_PRINCIPALS_SETTING, DISCOVERY_INTERVAL_SETTING, STALL_AFTER_SETTING, LOGS_SETTING,
        ACTIONS_SETTING,
    )  # fmt: skip
    health_rules: ClassVar[tuple[HealthRule, ...]] = HEALTH_RULES
    reason = staticmethod(job_reason)
    entry_type = CachedJob

    def read_settings(self, env: Mapping[str, str]) -> ProvisioningJobsSettings:
        return read_settings(env)

    async def observe(
        self,
        graph: GraphClient,
        cached: dict[str, StoredItem],
        settings: Settings,
        state: SourceState,
    ) -> Observation:
        """The jobs of the principals that have them (discovered, or named), then what the
        provisioning logs say failed, when they are read."""
        own = self.own_settings(settings)
        now = utc_now()
        principals = await principals_to_poll(graph, state, own, now)
        if principals.error is not None:
            return Observation(error=principals.error, details={"discovery": principals.report})
        seen = await observe_jobs(self, graph, cached, principals.names, own.stall_after_hours)
        seen.details["discovery"] = principals.report
        if principals.incomplete:
            # Counted once, under no item: the poll is partial while they go unasked.
            seen.failures[DISCOVERY_INCOMPLETE] = "discoveryIncomplete"
        if own.logs_enabled:
            report = await explain_failures(self.name, graph, state, cached, seen, now)
            seen.details["provisioningLogs"] = report
        return seen

    def item_path(self, item_id: str) -> str:
        sp_id, job_id = split_job_key(item_id)
        return f"/api/servicePrincipals/{sp_id}/synchronization/jobs/{quote(job_id, safe='')}"

    def operations(self) -> tuple[Operation, ...]:
        return JobRoutes(self).operations()

    def openapi(self) -> OpenApiPart:
        from shared.sources.provisioning_jobs.openapi import OPENAPI  # built on first use

        return OPENAPI

    def name_of_resource(self, resource: dict[str, Any]) -> str | None:
        # A job has no name of its own: its kind, from the template (the entry adds its
        # service principal's name when it is known).
        return job_display_name(None, resource)

    def status_of_resource(self, resource: dict[str, Any]) -> str | None:
        status = resource.get("status")
        return status.get("code") if isinstance(status, dict) else None

    def kind_of(self, item: StoredItem) -> str | None:
        return item.text(KIND_PART) or None
