"""Graph resources of the provisioning logs (v1.0 ``auditLogs/provisioning``): the
provisioningObjectSummary of one object provisioned, or not, in one cycle of a job, whole.

Ids, durations and cycles are derived from the arguments, so that equal inputs give equal
events (demo and tests stay deterministic).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tools.graph_tenant.common import ID_NAMESPACE, MINUTE_NS, graph_seconds_timestamp

# Error codes of cross-tenant synchronization, with the reason and recommended action the
# provisioning logs give for them.
CANNOT_UPDATE_MASTERED_ON_PREMISES = "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises"
B2B_POLICY_CHECK_FAILURE = "AzureDirectoryB2BManagementPolicyCheckFailure"
QUOTA_LIMIT_EXCEEDED = "AzureActiveDirectoryQuotaLimitExceeded"
PROVISIONING_ERRORS: dict[str, tuple[str, str]] = {
    CANNOT_UPDATE_MASTERED_ON_PREMISES: (
        "The user in the target tenant is synchronized from an on-premises directory "
        "(Microsoft Entra Connect or Cloud Sync), so the provisioning service cannot update it: "
        "objects mastered on premises can only be changed there.",
        "Take the user out of the scope of cross-tenant synchronization, or change its source "
        "of authority in the target tenant to the cloud, then provision the user on demand.",
    ),
    B2B_POLICY_CHECK_FAILURE: (
        "The target tenant's cross-tenant access settings do not let users be synchronized "
        "into it: automatic redemption of invitations is not configured for the source tenant.",
        "In the target tenant, allow users to be synchronized into it and turn on automatic "
        "redemption in the inbound cross-tenant access settings for the source tenant.",
    ),
    QUOTA_LIMIT_EXCEEDED: (
        "The target tenant has reached its directory quota: no more objects can be created in it.",
        "Delete the objects the target tenant no longer needs, or ask Microsoft support to "
        "raise its directory quota, then restart provisioning.",
    ),
}
# Details Graph adds for the error it passed on from the target directory.
ADDITIONAL_DETAILS = {
    CANNOT_UPDATE_MASTERED_ON_PREMISES: (
        "Error: Unable to update the specified properties for on-premises mastered Directory "
        "Sync objects or objects currently undergoing migration."
    ),
}
# provisioningAction -> (the steps' change type, infinitive, participle).
ACTION_WORDS = {
    "create": ("Add", "create", "created"),
    "update": ("Update", "update", "updated"),
    "delete": ("Delete", "delete", "deleted"),
    "disable": ("Update", "disable", "disabled"),
    "stagedDelete": ("Delete", "soft-delete", "soft-deleted"),
    "other": ("Other", "process", "processed"),
}
ENTRA_ID = "Azure Active Directory"
PROVISIONING_SERVICE = "Azure AD Provisioning Service"
# Who starts every provisioning action: the service itself.
INITIATED_BY = {"id": "", "displayName": PROVISIONING_SERVICE, "initiatorType": "application"}
# Provisioning cycles of a job start this often: events of one window share a cycleId.
CYCLE_NS = 40 * MINUTE_NS


def derived_id(*parts: object) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(str(part) for part in parts)))


def user_principal_name(user: str) -> str:
    return f"{user.lower().replace(' ', '.')}@contoso.com"


def provisioning_steps(
    status: str, action: str, user: str, source: str, target: str
) -> list[dict[str, Any]]:
    """The steps of one object's provisioning: import, scoping, matching, export; the export
    carries the event's status."""
    change, infinitive, participle = ACTION_WORDS[action]
    exported = (
        f"User '{user}' was {participle} in {target}"
        if status != "failure"
        else f"Failed to {infinitive} User '{user}' in {target}"
    )
    steps = (
        (f"EntryImport{change}", "import", "success",
         f"Received User '{user}' change of type ({change}) from {source}"),
        ("EntrySynchronizationScoping", "scoping", "success",
         f"Determine if User '{user}' is in scope by evaluating against each scoping filter"),
        (f"EntrySynchronization{change}", "matching", "success",
         f"User '{user}' will be {participle} in {target}"),
        (f"EntryExport{change}", "export", status, exported),
    )  # fmt: skip
    answer = [
        {
            "name": name,
            "provisioningStepType": kind,
            "status": step_status,
            "description": description,
            "details": {},
        }
        for name, kind, step_status, description in steps
    ]
    answer[-1]["details"] = {"ReportableIdentifier": user_principal_name(user)}
    return answer


def system(display_name: str, details: dict[str, Any]) -> dict[str, Any]:
    """A provisioningSystem: where the object came from or went to."""
    return {
        "id": derived_id("system", display_name),
        "displayName": display_name,
        "details": details,
    }


def identity(object_id: str, display_name: str) -> dict[str, Any]:
    return {"id": object_id, "displayName": display_name, "identityType": "User", "details": {}}


def provisioning_event(
    status: str,
    job_id: str,
    *,
    activity_ns: int | None = None,
    service_principal_id: str | None = None,
    service_principal_name: str = "Contoso SCIM app",
    cycle_id: str | None = None,
    action: str = "update",
    user: str = "Adele Vance",
    error: dict[str, Any] | None = None,
    source_system: str = ENTRA_ID,
    target_system: str | None = None,
) -> dict[str, Any]:
    """A provisioningObjectSummary with every property of Graph's resource: ``user`` was
    provisioned (``action``) by the job ``job_id`` of the service principal, from
    ``source_system`` to ``target_system`` (the principal's name by default), ``status``
    being success, failure, skipped or warning; ``error`` is its errorInformation.

    The event happened at ``activity_ns`` (now by default), in the cycle of its 40-minute
    window unless ``cycle_id`` is given.
    """
    if action not in ACTION_WORDS:
        raise ValueError(
            f"provisioningAction must be one of {sorted(ACTION_WORDS)}, not {action!r}."
        )
    activity = time.time_ns() if activity_ns is None else activity_ns
    sp_id = service_principal_id or derived_id("servicePrincipal", job_id)
    target = target_system or service_principal_name
    event_id = derived_id("provisioningEvent", job_id, activity, user, action, status)
    created = action == "create" and status == "failure"
    return {
        "id": event_id,
        "activityDateTime": graph_seconds_timestamp(activity),
        "changeId": derived_id("change", event_id),
        "cycleId": cycle_id or derived_id("cycle", job_id, activity // CYCLE_NS),
        "durationInMilliseconds": 900 + int(event_id[:4], 16) % 4000,
        "initiatedBy": dict(INITIATED_BY),
        "jobId": job_id,
        "modifiedProperties": [],
        "provisioningAction": action,
        "provisioningStatusInfo": {"status": status, "errorInformation": error},
        "provisioningSteps": provisioning_steps(status, action, user, source_system, target),
        "servicePrincipal": {"id": sp_id, "displayName": service_principal_name},
        "sourceIdentity": identity(derived_id("user", source_system, user), user),
        "sourceSystem": system(source_system, {}),
        "targetIdentity": (
            identity("", "") if created else identity(derived_id("user", target, user), user)
        ),
        "targetSystem": system(
            target,
            {
                "ApplicationId": derived_id("appId", sp_id),
                "ServicePrincipalId": sp_id,
                "ServicePrincipalDisplayName": service_principal_name,
            },
        ),
    }


def provisioning_error(
    code: str,
    reason: str | None = None,
    recommended_action: str | None = None,
    additional_details: str | None = None,
) -> dict[str, Any]:
    """A provisioningErrorInfo; a known ``code`` brings its own reason, action and details."""
    known_reason, known_action = PROVISIONING_ERRORS.get(code, (None, None))
    return {
        "additionalDetails": additional_details or ADDITIONAL_DETAILS.get(code),
        "errorCategory": "NonServiceFailure",
        "errorCode": code,
        "reason": reason or known_reason or f"The provisioning service failed with {code}.",
        "recommendedAction": recommended_action or known_action,
    }


def provisioning_failure(
    job_id: str,
    *,
    error_code: str = CANNOT_UPDATE_MASTERED_ON_PREMISES,
    reason: str | None = None,
    recommended_action: str | None = None,
    additional_details: str | None = None,
    activity_ns: int | None = None,
    service_principal_id: str | None = None,
    service_principal_name: str = "Contoso SCIM app",
    cycle_id: str | None = None,
    action: str = "update",
    user: str = "Adele Vance",
    source_system: str = ENTRA_ID,
    target_system: str | None = None,
) -> dict[str, Any]:
    """A failed provisioning of ``user`` (see :func:`provisioning_event`), its error
    information from :func:`provisioning_error`."""
    return provisioning_event(
        "failure",
        job_id,
        activity_ns=activity_ns,
        service_principal_id=service_principal_id,
        service_principal_name=service_principal_name,
        cycle_id=cycle_id,
        action=action,
        user=user,
        error=provisioning_error(error_code, reason, recommended_action, additional_details),
        source_system=source_system,
        target_system=target_system,
    )


def provisioning_success(
    job_id: str,
    *,
    activity_ns: int | None = None,
    service_principal_id: str | None = None,
    service_principal_name: str = "Contoso SCIM app",
    cycle_id: str | None = None,
    action: str = "update",
    user: str = "Adele Vance",
    source_system: str = ENTRA_ID,
    target_system: str | None = None,
) -> dict[str, Any]:
    """A successful provisioning of ``user`` (see :func:`provisioning_event`), with the
    properties it set."""
    event = provisioning_event(
        "success",
        job_id,
        activity_ns=activity_ns,
        service_principal_id=service_principal_id,
        service_principal_name=service_principal_name,
        cycle_id=cycle_id,
        action=action,
        user=user,
        source_system=source_system,
        target_system=target_system,
    )
    event["modifiedProperties"] = [
        {"displayName": "accountEnabled", "oldValue": None, "newValue": "True"},
        {"displayName": "displayName", "oldValue": None, "newValue": user},
        {
            "displayName": "userPrincipalName",
            "oldValue": None,
            "newValue": user_principal_name(user),
        },
    ]
    return event
