"""Graph resources of Entra ID provisioning (v1.0): synchronizationJob, its
synchronizationStatus and synchronizationTaskExecution, in every state a job can be in."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from tools.graph_tenant.common import (
    DAY_NS,
    HOUR_NS,
    ID_NAMESPACE,
    MINUTE_NS,
    SECOND_NS,
    graph_timestamp,
)

# Of Graph's quarantine reasons, those caused by too many escrowed (failed) entries end an
# execution with entry-level errors; the others (EncounteredQuarantineException, TooManyDeletes,
# QuarantinedOnDemand...) stop it outright.
ESCROW_QUARANTINE_REASONS = frozenset(
    {
        "EncounteredBaseEscrowThreshold",
        "EncounteredTotalEscrowThreshold",
        "EncounteredEscrowProportionThreshold",
    }
)
TROUBLESHOOTING_URL = (
    "https://learn.microsoft.com/entra/identity/app-provisioning/"
    "application-provisioning-quarantine-status"
)
DEFAULT_JOB_INTERVAL = "PT40M"
JOB_SETTINGS = (
    {"name": "AzureIngestionAttributeOptimization", "value": "False"},
    {"name": "LookaheadQueryEnabled", "value": "False"},
)


def synchronization_error(
    code: str, message: str, *, tenant_actionable: bool = True
) -> dict[str, Any]:
    """A synchronizationError: what went wrong and whether the tenant's admin can fix it."""
    return {"code": code, "message": message, "tenantActionable": tenant_actionable}


def task_execution(
    state: str,
    began_ns: int,
    *,
    duration_seconds: int = 23,
    imported: int = 1241,
    exported: int = 3,
    escrowed: int = 0,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A synchronizationTaskExecution with every count Graph sends (all Int64).

    The activity identifier is derived from the start time, so that equal inputs give equal
    statuses (generated tenants stay deterministic).
    """
    return {
        "activityIdentifier": str(uuid.uuid5(ID_NAMESPACE, f"activity/{began_ns}")),
        "countEntitled": imported,
        "countEntitledForProvisioning": imported,
        "countEscrowed": escrowed,
        "countEscrowedRaw": escrowed,
        "countExported": exported,
        "countExports": exported,
        "countImported": imported,
        "countImportedDeltas": exported + escrowed,
        "countImportedReferenceDeltas": 0,
        "error": error,
        "state": state,
        "timeBegan": graph_timestamp(began_ns),
        "timeEnded": graph_timestamp(began_ns + duration_seconds * SECOND_NS + 1234500),
    }


def synchronization_status(
    code: str,
    now_ns: int,
    *,
    last: dict[str, Any] | None,
    last_successful: dict[str, Any] | None,
    failures: int = 0,
    quarantine: dict[str, Any] | None = None,
    progress: list[dict[str, Any]] | None = None,
    troubleshooting_url: str | None = None,
) -> dict[str, Any]:
    """A synchronizationStatus with every property of Graph's resource page, in its order."""
    steady = last_successful is not None
    return {
        "code": code,
        "countSuccessiveCompleteFailures": failures,
        "escrowsPruned": False,
        "lastExecution": last,
        "lastSuccessfulExecution": last_successful,
        "lastSuccessfulExecutionWithExports": (
            task_execution("Succeeded", now_ns - 2 * HOUR_NS - 17 * MINUTE_NS, exported=12)
            if steady
            else None
        ),
        "progress": progress or [],
        "quarantine": quarantine,
        "steadyStateFirstAchievedTime": (
            graph_timestamp(now_ns - 41 * DAY_NS - 3 * HOUR_NS) if steady else None
        ),
        "steadyStateLastAchievedTime": (
            last_successful["timeEnded"] if last_successful is not None else None
        ),
        "synchronizedEntryCountByType": (
            [{"key": "user to User", "value": 1204}, {"key": "group to Group", "value": 37}]
            if steady
            else []
        ),
        "troubleshootingUrl": troubleshooting_url,
    }


def healthy_job_status(*, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job whose last cycle, 12 minutes ago, succeeded: the steady state."""
    now = time.time_ns() if now_ns is None else now_ns
    last = task_execution("Succeeded", now - 12 * MINUTE_NS, exported=0)
    return synchronization_status("Active", now, last=last, last_successful=dict(last))


def stalled_job_status(hours: float = 26, *, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job that stopped running without a word: its last cycle succeeded ``hours``
    ago and none has run since (every 40 minutes was due). Nothing in it says trouble but the
    age of its executions."""
    now = time.time_ns() if now_ns is None else now_ns
    ended = now - int(hours * HOUR_NS)
    last = task_execution("Succeeded", ended - 23 * SECOND_NS - 1234500, exported=0)
    status = synchronization_status("Active", now, last=last, last_successful=dict(last))
    status["lastSuccessfulExecutionWithExports"] = task_execution(
        "Succeeded", ended - 3 * HOUR_NS, exported=7
    )
    return status


def quarantined_job_status(
    reason: str = "EncounteredEscrowProportionThreshold", *, now_ns: int | None = None
) -> dict[str, Any]:
    """A job in quarantine: Graph backs off and retries at ``nextAttempt``.

    Escrow thresholds end the last execution with entry-level errors (many escrowed entries);
    the other reasons fail it outright.
    """
    now = time.time_ns() if now_ns is None else now_ns
    began = now - 3 * HOUR_NS - 4 * MINUTE_NS
    if reason in ESCROW_QUARANTINE_REASONS:
        last = task_execution("EntryLevelErrors", began, escrowed=687, exported=0)
        message = (
            "The job was quarantined: too many entries could not be provisioned (escrowed).\r\n"
            "Review the provisioning logs, fix the attribute mappings, then restart the job."
        )
    else:
        last = task_execution(
            "Failed",
            began,
            exported=0,
            error=synchronization_error(reason, f"The job was quarantined ({reason})."),
        )
        message = f"The job was quarantined ({reason}).\r\nRestart the job once it is fixed."
    quarantine = {
        "currentBegan": graph_timestamp(began + 31 * SECOND_NS),
        "nextAttempt": graph_timestamp(now + 9 * HOUR_NS + 12 * MINUTE_NS),
        "reason": reason,
        "seriesBegan": graph_timestamp(began + 31 * SECOND_NS),
        "seriesCount": 1,
        "error": synchronization_error(reason, message),
    }
    return synchronization_status(
        "Quarantine",
        now,
        last=last,
        last_successful=task_execution("Succeeded", now - 5 * HOUR_NS),
        quarantine=quarantine,
        troubleshooting_url=TROUBLESHOOTING_URL,
    )


def failed_job_status(*, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job whose last three cycles failed outright (the target refused us)."""
    now = time.time_ns() if now_ns is None else now_ns
    error = synchronization_error(
        "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable",
        "We could not reach the application's SCIM endpoint with the configured credentials."
        "\r\nCheck the tenant URL and the secret token, then test the connection.",
    )
    last = task_execution("Failed", now - 8 * MINUTE_NS, imported=0, exported=0, error=error)
    return synchronization_status(
        "Active",
        now,
        last=last,
        last_successful=task_execution("Succeeded", now - 2 * HOUR_NS),
        failures=3,
        troubleshooting_url=TROUBLESHOOTING_URL,
    )


def entry_level_errors_job_status(*, now_ns: int | None = None) -> dict[str, Any]:
    """An Active job whose last cycle ran but escrowed some entries (entry-level errors)."""
    now = time.time_ns() if now_ns is None else now_ns
    last = task_execution("EntryLevelErrors", now - 15 * MINUTE_NS, escrowed=12, exported=5)
    return synchronization_status(
        "Active",
        now,
        last=last,
        last_successful=task_execution("Succeeded", now - 55 * MINUTE_NS),
    )


def job_status(code: str, *, now_ns: int | None = None) -> dict[str, Any]:
    """A status for any synchronizationStatusCode.

    ``Active`` and ``Quarantine`` are :func:`healthy_job_status` and
    :func:`quarantined_job_status`; ``Paused`` is a steady job stopped mid-cycle (with progress);
    ``NotRun`` and ``NotConfigured`` have never run, so every execution is null. Other codes
    (future members) get a healthy status under that code.
    """
    now = time.time_ns() if now_ns is None else now_ns
    match code:
        case "Active":
            return healthy_job_status(now_ns=now)
        case "Quarantine":
            return quarantined_job_status(now_ns=now)
        case "NotRun" | "NotConfigured":
            return synchronization_status(code, now, last=None, last_successful=None)
        case "Paused":
            status = healthy_job_status(now_ns=now)
            status["code"] = code
            status["progress"] = [
                {
                    "completedUnits": 420,
                    "progressObservationDateTime": graph_timestamp(now - 6 * MINUTE_NS),
                    "totalUnits": 1241,
                    "units": "Entries",
                }
            ]
            return status
        case _:
            status = healthy_job_status(now_ns=now)
            status["code"] = code
            return status


def default_schedule(status: Mapping[str, Any]) -> dict[str, Any]:
    """A synchronizationSchedule: every 40 minutes, stopped while the job is paused."""
    state = "Paused" if status.get("code") == "Paused" else "Active"
    return {"expiration": None, "interval": DEFAULT_JOB_INTERVAL, "state": state}


def job_resource(
    job_id: str,
    template_id: str,
    status: dict[str, Any],
    schedule: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A synchronizationJob as Graph lists it."""
    return {
        "id": job_id,
        "templateId": template_id,
        "schedule": schedule if schedule is not None else default_schedule(status),
        "status": status,
        "synchronizationJobSettings": [dict(setting) for setting in JOB_SETTINGS],
    }
