"""How a job's provisioning failures are described in the OpenAPI document (and so in the
connector): provisioningObjectSummary, as Graph sends it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.core.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from shared.core.openapi import SKIPTOKEN, TOP, GraphResource, Int64, operation, param, ref


class ProvisioningErrorInfo(GraphResource):
    """Why an object failed to provision."""

    errorCode: str | None = Field(default=None, description="The error code.")
    errorCategory: str | None = Field(default=None, description="The kind of error.")
    reason: str | None = Field(default=None, description="What went wrong.")
    additionalDetails: str | None = Field(default=None, description="More about it.")
    recommendedAction: str | None = Field(default=None, description="How to fix it.")


class ProvisioningStatusInfo(GraphResource):
    """The outcome of a provisioning event."""

    status: str | None = Field(default=None, description="success, failure, skipped or warning.")
    errorInformation: ProvisioningErrorInfo | None = None


class ProvisionedIdentity(GraphResource):
    """The object a provisioning event was about, in the source or the target system."""

    id: str | None = Field(default=None, description="The object's id in its system.")
    displayName: str | None = Field(default=None, description="The object's name.")
    identityType: str | None = Field(default=None, description="User, Group, ...")


class ProvisioningSystem(GraphResource):
    """A system provisioning reads from or writes to."""

    id: str | None = None
    displayName: str | None = Field(default=None, description="The system's name.")


class ProvisioningServicePrincipal(GraphResource):
    """The service principal whose job provisioned the object."""

    id: str | None = None
    displayName: str | None = Field(default=None, description="The application's name.")


class ProvisioningStep(GraphResource):
    """One step of provisioning an object."""

    name: str | None = None
    provisioningStepType: str | None = None
    status: str | None = None
    description: str | None = None


class ProvisioningObjectSummary(GraphResource):
    """A provisioning event (provisioningObjectSummary) as Graph sent it."""

    id: str = Field(description="The event's id.")
    activityDateTime: str | None = Field(default=None, description="When it happened.")
    jobId: str | None = Field(default=None, description="The job's id.")
    cycleId: str | None = Field(default=None, description="The provisioning cycle's id.")
    changeId: str | None = None
    durationInMilliseconds: Int64 | None = None
    provisioningAction: str | None = Field(
        default=None, description="create, update, delete, disable, stagedDelete or other."
    )
    provisioningStatusInfo: ProvisioningStatusInfo | None = None
    provisioningSteps: list[ProvisioningStep] | None = None
    servicePrincipal: ProvisioningServicePrincipal | None = None
    sourceIdentity: ProvisionedIdentity | None = None
    sourceSystem: ProvisioningSystem | None = None
    targetIdentity: ProvisionedIdentity | None = None
    targetSystem: ProvisioningSystem | None = None


class ProvisioningObjectSummaryList(BaseModel):
    """A monitored job's failures from the provisioning logs, newest first."""

    odata_context: str = Field(alias="@odata.context", description="The OData context URL.")
    value: list[ProvisioningObjectSummary] = Field(description="The failures.")
    odata_next_link: str = Field(
        default="",
        alias="@odata.nextLink",
        description="The URL of the next page; absent on the last page.",
    )


def failure_paths() -> dict[str, Any]:
    job_filter = param(
        "$filter",
        "query",
        "Job Filter",
        "jobId eq '{jobId}': the failures of one monitored provisioning job (the only "
        "filter this route takes).",
        required=True,
        visibility="important",
        pattern=r"^jobId eq '[^'/\\#?]+'$",
    )
    return {
        "/auditLogs/provisioning": {
            "get": operation(
                "ListProvisioningFailures",
                "List the provisioning failures of a job",
                "Lists the objects a monitored provisioning job failed to provision, read "
                "from the provisioning logs (PROVISIONING_LOGS_ENABLED): the newest 500 of "
                "the last 30 days, newest first, in Graph's provisioningObjectSummary shape.",
                {
                    200: {
                        "description": "The failures.",
                        "schema": ref("ProvisioningObjectSummaryList"),
                    }
                },
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(job_filter, TOP, SKIPTOKEN),
            )
        }
    }
