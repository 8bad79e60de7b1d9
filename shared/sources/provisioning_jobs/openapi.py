"""How the provisioning job routes and their answers are described in the OpenAPI document
(and so in the Power Automate connector): a synchronizationJob whole, as Graph sends it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from shared.core.openapi import (
    ITEM_KEY,
    GraphResource,
    Int64,
    OpenApiPart,
    operation,
    path_param,
    ref,
)
from shared.sources.provisioning_jobs.actions_openapi import JobRestartRequest, action_paths
from shared.sources.provisioning_jobs.failures_openapi import (
    ProvisioningObjectSummaryList,
    failure_paths,
)
from shared.sources.provisioning_jobs.models import CheckedSynchronizationJob
from shared.sources.provisioning_jobs.settings import SERVICE_PRINCIPALS_SETTING


class SynchronizationError(GraphResource):
    """A synchronizationError."""

    code: str | None = Field(default=None, description="The error code.")
    message: str | None = Field(default=None, description="The error message.")
    tenantActionable: bool | None = Field(
        default=None, description="Whether the tenant can fix the error."
    )


class SynchronizationTaskExecution(GraphResource):
    """A synchronizationTaskExecution: one run of a provisioning job."""

    activityIdentifier: str | None = Field(default=None, description="The run's identifier.")
    countEntitled: Int64 | None = None
    countEntitledForProvisioning: Int64 | None = None
    countEscrowed: Int64 | None = None
    countEscrowedRaw: Int64 | None = None
    countExported: Int64 | None = None
    countExports: Int64 | None = None
    countImported: Int64 | None = None
    countImportedDeltas: Int64 | None = None
    countImportedReferenceDeltas: Int64 | None = None
    state: str | None = Field(
        default=None, description="Succeeded, Failed or EntryLevelErrors (or a newer value)."
    )
    error: SynchronizationError | None = None
    timeBegan: str | None = Field(default=None, description="When the run began.")
    timeEnded: str | None = Field(default=None, description="When the run ended.")


class SynchronizationProgress(GraphResource):
    """A synchronizationProgress."""

    completedUnits: Int64 | None = None
    progressObservationDateTime: str | None = None
    totalUnits: Int64 | None = None
    units: str | None = None


class SynchronizationQuarantine(GraphResource):
    """A synchronizationQuarantine: why and since when a job is quarantined."""

    currentBegan: str | None = None
    nextAttempt: str | None = None
    reason: str | None = Field(default=None, description="Why the job is quarantined.")
    seriesBegan: str | None = None
    seriesCount: Int64 | None = None
    error: SynchronizationError | None = None


class StringKeyLongValuePair(GraphResource):
    """A stringKeyLongValuePair."""

    key: str | None = None
    value: Int64 | None = None


class SynchronizationStatus(GraphResource):
    """A synchronizationStatus, whole, as Graph sent it."""

    code: str | None = Field(
        default=None,
        description="NotConfigured, NotRun, Active, Paused or Quarantine (or a newer value).",
    )
    countSuccessiveCompleteFailures: Int64 | None = None
    escrowsPruned: bool | None = None
    lastExecution: SynchronizationTaskExecution | None = None
    lastSuccessfulExecution: SynchronizationTaskExecution | None = None
    lastSuccessfulExecutionWithExports: SynchronizationTaskExecution | None = None
    progress: list[SynchronizationProgress] | None = None
    quarantine: SynchronizationQuarantine | None = None
    steadyStateFirstAchievedTime: str | None = None
    steadyStateLastAchievedTime: str | None = None
    synchronizedEntryCountByType: list[StringKeyLongValuePair] | None = None
    troubleshootingUrl: str | None = None


class SynchronizationSchedule(GraphResource):
    """A synchronizationSchedule."""

    expiration: str | None = None
    interval: str | None = Field(default=None, description="An ISO 8601 duration.")
    state: str | None = None


class KeyValuePair(GraphResource):
    """A keyValuePair."""

    name: str | None = None
    value: str | None = None


class SynchronizationJob(CheckedSynchronizationJob):
    """An Entra ID provisioning job (synchronizationJob) as Graph sent it."""

    templateId: str | None = Field(default=None, description="The job's template.")
    schedule: SynchronizationSchedule | None = None
    status: SynchronizationStatus | None = None  # type: ignore[assignment]
    synchronizationJobSettings: list[KeyValuePair] | None = None


class SynchronizationJobWithContext(SynchronizationJob):
    """An Entra ID provisioning job (synchronizationJob) as Graph sent it."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")


class SynchronizationJobList(BaseModel):
    """The cached provisioning jobs of a service principal."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[SynchronizationJob] = Field(description="The jobs.")


def _paths() -> dict[str, Any]:
    jobs = "/servicePrincipals/{servicePrincipalId}/synchronization/jobs"
    sp_id = path_param(
        "servicePrincipalId",
        "Service Principal ID",
        "The object ID (a GUID) of the service principal whose provisioning jobs are "
        f"monitored (discovered, or named in {SERVICE_PRINCIPALS_SETTING}).",
        format="uuid",
    )
    job_id = path_param("jobId", "Job ID", "The ID of the job.", **ITEM_KEY)
    return {
        jobs: {
            "get": operation(
                "ListSynchronizationJobs",
                "List the provisioning jobs of a service principal",
                "Lists the cached Entra ID provisioning jobs (synchronizationJob) of a "
                "monitored service principal, each with its whole synchronizationStatus.",
                {200: {"description": "The jobs.", "schema": ref("SynchronizationJobList")}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(sp_id,),
            )
        },
        jobs + "/{jobId}": {
            "get": operation(
                "GetSynchronizationJob",
                "Get a provisioning job",
                "Gets a cached Entra ID provisioning job with its whole synchronizationStatus, "
                "as Graph sent it.",
                {200: {"description": "The job.", "schema": ref("SynchronizationJobWithContext")}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(sp_id, job_id),
            )
        },
    }


OPENAPI = OpenApiPart(
    paths=lambda: {**_paths(), **failure_paths(), **action_paths()},
    models=(
        SynchronizationJobList,
        SynchronizationJobWithContext,
        ProvisioningObjectSummaryList,
        JobRestartRequest,
    ),
    summaries={"troubleshootingUrl": "Troubleshooting URL", "templateId": "Template ID"},
    important=frozenset({"quarantine", "lastExecution"}),
)
