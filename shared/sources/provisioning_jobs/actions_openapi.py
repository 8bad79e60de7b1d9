"""How the job actions are described in the OpenAPI document (and so in the connector):
restart (with its criteria's reset scope as a multi-select of Graph's flags), pause, start."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.core.errors import (
    ConflictError,
    ForbiddenError,
    GraphUnavailableError,
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    TooManyRequestsError,
)
from shared.core.openapi import ITEM_KEY, operation, param, path_param, ref
from shared.sources.provisioning_jobs.action_models import ResetScope


class JobRestartCriteria(BaseModel):
    """What a restart resets."""

    model_config = ConfigDict(extra="forbid")

    resetScope: list[ResetScope] = Field(
        default_factory=list,
        description="What to reset: QuarantineState lifts a quarantine, Escrows drops the "
        "escrowed entries, Watermark starts again from the beginning, Full resets all; "
        "ForceDeletes (only with PROVISIONING_ALLOW_FORCE_DELETES) lets deletions past the "
        "accidental-deletion limit go through. Graph's comma-separated text is taken too.",
    )


class JobRestartRequest(BaseModel):
    """The body of a restart, as Graph takes it."""

    model_config = ConfigDict(extra="forbid")

    criteria: JobRestartCriteria | None = None


_ERRORS = (
    InvalidInputError,
    ForbiddenError,
    NotFoundError,
    ConflictError,
    TooManyRequestsError,
    GraphUnavailableError,
)
_GUARDS = (
    "Needs PROVISIONING_ACTIONS_ENABLED and the app's Synchronization.ReadWrite.All (403 "
    "otherwise); only jobs the app monitors (404); at most one action per job per "
    "PROVISIONING_ACTION_COOLDOWN_SECONDS (429). Recorded in the job's history and sent to "
    "subscribers as an event of kind action. Answers 202 with the job as Graph has it just "
    "after, or 204 when it could not be read back (the next poll reads it)."
)


def action_paths() -> dict[str, Any]:
    sp_id = path_param(
        "servicePrincipalId", "Service Principal ID",
        "The object ID (a GUID) of the job's service principal.", format="uuid",
    )  # fmt: skip
    job_id = path_param("jobId", "Job ID", "The ID of the job.", **ITEM_KEY)
    request_id = param(
        "x-ms-client-request-id", "header", "Client Request ID",
        "Sent to Graph with the action and kept in the history (a new GUID when left out).",
    )  # fmt: skip
    criteria = {
        "name": "body", "in": "body", "required": False, "description": "What to reset.",
        "x-ms-summary": "Criteria", "x-ms-visibility": "important",
        "schema": ref("JobRestartRequest"),
    }  # fmt: skip
    after = {
        "description": "Done: the job just after.",
        "schema": ref("SynchronizationJobWithContext"),
    }
    done = {
        202: after,
        204: {"description": "Done; the job could not be read back (the next poll reads it)."},
    }
    jobs = "/servicePrincipals/{servicePrincipalId}/synchronization/jobs/{jobId}"
    return {
        f"{jobs}/restart": {
            "post": operation(
                "RestartSynchronizationJob",
                "Restart a provisioning job",
                "Restarts a monitored provisioning job through Graph, resetting what the "
                "criteria say (QuarantineState to lift a quarantine). " + _GUARDS,
                done,
                (*_ERRORS, RequestTooLargeError),
                parameters=(sp_id, job_id, request_id, criteria),
            )
        },
        f"{jobs}/pause": {
            "post": operation(
                "PauseSynchronizationJob",
                "Pause a provisioning job",
                "Pauses a monitored provisioning job through Graph (its cycles stop until it "
                "is started). " + _GUARDS,
                done,
                _ERRORS,
                parameters=(sp_id, job_id, request_id),
            )
        },
        f"{jobs}/start": {
            "post": operation(
                "StartSynchronizationJob",
                "Start a provisioning job",
                "Starts (or resumes) a monitored provisioning job through Graph. " + _GUARDS,
                done,
                _ERRORS,
                parameters=(sp_id, job_id, request_id),
            )
        },
    }
