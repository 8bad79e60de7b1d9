"""A provisioning job as cached: the job as Graph sent it, the name of its service principal
(found by discovery), and how it is judged at the time the poll read it (the stall bound,
and the provisioning logs' failures of the last 24 hours when they are read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.health import CHECKED_AT, Assessment
from shared.core.time import utc_now
from shared.sources.documents import CachedDocument
from shared.sources.provisioning_jobs.health import FAILURES, STALL_AFTER
from shared.sources.provisioning_jobs.kinds import job_display_name, job_kind
from shared.storage.codec import Entity, get_document, put_document, put_optional

PRINCIPAL_NAME_COLUMN = "servicePrincipalName"
# What kind of sync the job is (from its template), for the board's rows.
KIND_COLUMN = "kind"
# The provisioning logs' summary of the job's last 24 hours ({} once there is none).
FAILURES_COLUMN = "provisioningFailures"


@dataclass
class CachedJob(CachedDocument):
    # The service principal's displayName, when discovery (or the named ids' lookup) read it.
    principal_name: str | None = None
    # From the settings, when a poll read it (not kept: the settings say it each time).
    stall_after_hours: float | None = None
    # The provisioning logs' summary of the last 24 hours, when they are read (made again
    # from the kept failures at each poll, and kept with the job).
    failures: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        context: dict[str, Any] = {CHECKED_AT: self.last_checked_date_time or utc_now()}
        if self.stall_after_hours is not None:
            context[STALL_AFTER] = self.stall_after_hours
        if self.failures:
            context[FAILURES] = self.failures
        return context

    @property
    def display_name(self) -> str:
        return job_display_name(self.principal_name, self.resource)

    def to_entity(self) -> Entity:
        entity = super().to_entity()
        entity["displayName"] = self.display_name
        entity[KIND_COLUMN] = job_kind(self.resource.get("templateId"))
        put_optional(entity, PRINCIPAL_NAME_COLUMN, self.principal_name)
        if self.failures:
            put_document(entity, FAILURES_COLUMN, self.failures)
        return entity

    def refresh_columns(self, current: Entity) -> tuple[dict[str, Any], Assessment]:
        """A principal renamed (or named for the first time) renames its jobs' rows; a new
        summary of the provisioning logs replaces the one kept."""
        columns: dict[str, Any] = {}
        if self.principal_name and current.get(PRINCIPAL_NAME_COLUMN) != self.principal_name:
            columns[PRINCIPAL_NAME_COLUMN] = self.principal_name
            columns["displayName"] = self.display_name
        kind = job_kind(self.resource.get("templateId"))
        if current.get(KIND_COLUMN) != kind:  # cached before the kind was kept
            columns[KIND_COLUMN] = kind
        kept = get_document(current, FAILURES_COLUMN) or None
        if kept != (self.failures or None):
            put_document(columns, FAILURES_COLUMN, self.failures or {})
        return columns, self.health

    @classmethod
    def read_extra(cls, entity: Entity) -> dict[str, Any]:
        return {
            "principal_name": entity.get(PRINCIPAL_NAME_COLUMN),
            "failures": get_document(entity, FAILURES_COLUMN) or None,
        }
