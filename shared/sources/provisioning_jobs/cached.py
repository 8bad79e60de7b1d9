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
from shared.storage.items import ItemUpdate, StoredItem

# What the cache keeps of a job beside its resource: its principal's name; what kind of sync
# it is (from its template), for the board's rows; the provisioning logs' summary of its last
# 24 hours ({} once there is none).
PRINCIPAL_NAME_PART = "servicePrincipalName"
KIND_PART = "kind"
FAILURES_PART = "provisioningFailures"


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

    def kept_texts(self) -> dict[str, str | None]:
        return {
            KIND_PART: job_kind(self.resource.get("templateId")),
            PRINCIPAL_NAME_PART: self.principal_name,
        }

    def kept_documents(self) -> dict[str, Any]:
        return {FAILURES_PART: self.failures or None}

    def refresh(self, current: StoredItem) -> tuple[ItemUpdate, Assessment]:
        """A principal renamed (or named for the first time) renames its jobs' rows; a new
        summary of the provisioning logs replaces the one kept."""
        update = ItemUpdate()
        if self.principal_name and current.text(PRINCIPAL_NAME_PART) != self.principal_name:
            update.texts[PRINCIPAL_NAME_PART] = self.principal_name
            update.display_name = self.display_name
        kind = job_kind(self.resource.get("templateId"))
        if current.text(KIND_PART) != kind:  # cached before the kind was kept
            update.texts[KIND_PART] = kind
        if (current.document(FAILURES_PART) or None) != (self.failures or None):
            update.documents[FAILURES_PART] = self.failures or {}
        return update, self.health

    @classmethod
    def read_extra(cls, item: StoredItem) -> dict[str, Any]:
        return {
            "principal_name": item.text(PRINCIPAL_NAME_PART),
            "failures": item.document(FAILURES_PART) or None,
        }
