"""Generated (``--jobs``) and demo (``--demo``) provisioning: service principals with jobs in
every state, hundreds without any, one whose jobs are refused, and the provisioning logs of
the job in trouble.

Everything here is derived from ids and the time it is made, so every start adds the same.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from tools.graph_tenant.common import (
    DEMO_INTERVAL_SECONDS,
    HOUR_NS,
    ID_NAMESPACE,
    MINUTE_NS,
    SECOND_NS,
    random_offset_ns,
)
from tools.graph_tenant.provisioning_log_resources import (
    B2B_POLICY_CHECK_FAILURE,
    CANNOT_UPDATE_MASTERED_ON_PREMISES,
    QUOTA_LIMIT_EXCEEDED,
    provisioning_failure,
    provisioning_success,
)
from tools.graph_tenant.provisioning_resources import (
    TROUBLESHOOTING_URL,
    entry_level_errors_job_status,
    failed_job_status,
    job_status,
    stalled_job_status,
    synchronization_error,
    synchronization_status,
    task_execution,
)
from tools.graph_tenant.service_principals import app_display_name

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

# Job statuses of ``--jobs`` tenants: mostly steady, with every kind of trouble present.
GENERATED_JOB_KINDS = (
    ("Active", 70),
    ("EntryLevelErrors", 10),
    ("Failed", 5),
    ("Quarantine", 5),
    ("Paused", 5),
    ("NotRun", 3),
    ("NotConfigured", 2),
)


class DemoPrincipal(NamedTuple):
    """A demo service principal with jobs: (templateId, kind) per job, and whether its jobs
    answer 403. Its id is derived from ``key``."""

    key: str
    display_name: str
    jobs: tuple[tuple[str, str], ...]
    refused: bool = False

    @property
    def id(self) -> str:
        return str(uuid.uuid5(ID_NAMESPACE, f"demo/servicePrincipal/{self.key}"))


DEMO_PRINCIPALS = (
    DemoPrincipal("1", "Canvas LMS", (("scim", "Active"), ("scim", "Quarantine"))),
    DemoPrincipal("2", "Clever", (("scim", "EntryLevelErrors"), ("scim", "Paused"))),
    DemoPrincipal("3", "Dropbox Business", (("dropboxSCIM", "Active"),)),
    # Entra Cloud Sync names its principal after the AD domain it syncs.
    DemoPrincipal("4", "contoso.local", (("AD2AADProvisioning", "Active"),)),
    DemoPrincipal("5", "Fabrikam cross-tenant sync", (("Azure2Azure", "EntryLevelErrors"),)),
    DemoPrincipal("6", "ServiceNow", (("serviceNowOutDelta", "Stalled"),)),
    DemoPrincipal("7", "Workday to Microsoft Entra ID", (("Workday", "Active"),), refused=True),
    # A job that flaps: each demo tick runs a cycle, failing and succeeding by turns.
    DemoPrincipal("8", "Slack", (("slack", "Flapping"),)),
)
# The first two demo principals, with the demo's first four jobs (all ``scim``).
DEMO_SERVICE_PRINCIPAL_IDS = (DEMO_PRINCIPALS[0].id, DEMO_PRINCIPALS[1].id)
# Every demo principal with jobs, in the order they are added.
DEMO_JOB_SERVICE_PRINCIPAL_IDS = tuple(principal.id for principal in DEMO_PRINCIPALS)
DEMO_DROPBOX_SERVICE_PRINCIPAL_ID = DEMO_PRINCIPALS[2].id
DEMO_CLOUD_SYNC_SERVICE_PRINCIPAL_ID = DEMO_PRINCIPALS[3].id
DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID = DEMO_PRINCIPALS[4].id
DEMO_STALLED_SERVICE_PRINCIPAL_ID = DEMO_PRINCIPALS[5].id
DEMO_REFUSED_SERVICE_PRINCIPAL_ID = DEMO_PRINCIPALS[6].id
DEMO_FLAPPING_SERVICE_PRINCIPAL_ID = DEMO_PRINCIPALS[7].id
# Principals of apps nobody provisions, between those with jobs (a listing meets them first).
DEMO_IDLE_SERVICE_PRINCIPALS = 300
# The cross-tenant job's failures in the logs: (minutes ago, user, action, error code).
DEMO_FAILURES = (
    (25, "Megan Bowen", "update", CANNOT_UPDATE_MASTERED_ON_PREMISES),
    (65, "Lee Gu", "update", CANNOT_UPDATE_MASTERED_ON_PREMISES),
    (110, "Isaiah Langer", "create", B2B_POLICY_CHECK_FAILURE),
    (150, "Alex Wilber", "update", CANNOT_UPDATE_MASTERED_ON_PREMISES),
    (190, "Pradeep Gupta", "create", QUOTA_LIMIT_EXCEEDED),
    (245, "Nestor Wilke", "update", CANNOT_UPDATE_MASTERED_ON_PREMISES),
    (290, "Joni Sherman", "create", B2B_POLICY_CHECK_FAILURE),
)
# Its successes: (minutes ago, user, action).
DEMO_SUCCESSES = (
    (20, "Adele Vance", "update"),
    (60, "Diego Siciliani", "create"),
    (120, "Grady Archie", "update"),
    (180, "Lynne Robbins", "update"),
    (240, "Miriam Graham", "disable"),
)


def kind_status(kind: str, now_ns: int) -> dict[str, Any]:
    """A job status for a generated kind: a synchronizationStatusCode, an execution state,
    ``Stalled`` (no cycle for 26 hours) or ``Flapping`` (its cycle just succeeded; the demo's
    ticks make the next one fail)."""
    match kind:
        case "Flapping":
            return flapping_job_status(failed=False, now_ns=now_ns)
        case "EntryLevelErrors":
            return entry_level_errors_job_status(now_ns=now_ns)
        case "Failed":
            return failed_job_status(now_ns=now_ns)
        case "Stalled":
            return stalled_job_status(now_ns=now_ns)
        case _:
            return job_status(kind, now_ns=now_ns)


def generated_job_id(template_id: str, key: str) -> str:
    """A job id shaped like Graph's (``<templateId>.<hex>.<hex>``), derived from ``key``."""
    first = uuid.uuid5(ID_NAMESPACE, f"job/{key}").hex
    second = uuid.uuid5(ID_NAMESPACE, f"app/{key}").hex
    return f"{template_id}.{first}.{second}"


def demo_job_id(principal: DemoPrincipal, template_id: str, kind: str) -> str:
    return generated_job_id(template_id, f"demo/{principal.id}/{kind}")


# The job whose provisioning logs show failures: the cross-tenant sync's.
DEMO_CROSS_TENANT_JOB_ID = demo_job_id(DEMO_PRINCIPALS[4], "Azure2Azure", "EntryLevelErrors")
# The job whose cycles fail and succeed by turns, one cycle per demo tick: Slack's.
DEMO_FLAPPING_JOB_ID = demo_job_id(DEMO_PRINCIPALS[7], "slack", "Flapping")
# How long before a tick its cycle began, and how long before that the one before did.
FLAPPING_CYCLE_BEGAN_S = 30
FLAPPING_CYCLE_EVERY_S = DEMO_INTERVAL_SECONDS


def flapping_job_status(*, failed: bool, now_ns: int) -> dict[str, Any]:
    """The flapping job's status after a cycle that began 30 s before ``now_ns``: failed
    outright (Slack's SCIM endpoint timed out; the cycle before succeeded), or succeeded."""
    began = now_ns - FLAPPING_CYCLE_BEGAN_S * SECOND_NS
    if not failed:
        last = task_execution("Succeeded", began, imported=310, exported=2)
        return synchronization_status("Active", now_ns, last=last, last_successful=dict(last))
    error = synchronization_error(
        "SystemForCrossDomainIdentityManagementServiceUnavailable",
        "Slack's SCIM endpoint did not answer within 60 seconds.\r\n"
        "The next cycle tries again; if this keeps happening, check Slack's status page.",
        tenant_actionable=False,
    )
    last = task_execution("Failed", began, imported=0, exported=0, error=error)
    earlier = began - int(FLAPPING_CYCLE_EVERY_S * SECOND_NS)
    success = task_execution("Succeeded", earlier, imported=310, exported=2)
    return synchronization_status(
        "Active", now_ns, last=last, last_successful=success, failures=1,
        troubleshooting_url=TROUBLESHOOTING_URL,
    )  # fmt: skip


def advance_flapping_job(tenant: SimulatedTenant, now_ns: int) -> None:
    """Run the flapping job's next cycle: it fails when the last one succeeded, and succeeds
    when it failed. A tenant without the job, or the job paused or quarantined (by an action
    through the app, say), is left as it is."""
    try:
        status = tenant.get_job(DEMO_FLAPPING_SERVICE_PRINCIPAL_ID, DEMO_FLAPPING_JOB_ID)["status"]
    except KeyError:
        return
    if status.get("code") != "Active":
        return
    failed = (status.get("lastExecution") or {}).get("state") != "Failed"
    next_status = flapping_job_status(failed=failed, now_ns=now_ns)
    tenant.set_job_status(DEMO_FLAPPING_SERVICE_PRINCIPAL_ID, DEMO_FLAPPING_JOB_ID, **next_status)


def populate_jobs(
    tenant: SimulatedTenant, count: int, seed: int, per_service_principal: int = 10
) -> list[str]:
    """Add ``count`` jobs, ``per_service_principal`` to a service principal; returns the
    service principals' ids. Ids and statuses depend only on ``seed`` and the index.
    """
    if per_service_principal < 1:
        raise ValueError(f"per_service_principal must be >= 1, not {per_service_principal}.")
    rng = random.Random(seed)
    now = time.time_ns()
    kinds, weights = zip(*GENERATED_JOB_KINDS, strict=True)
    sp_ids: list[str] = []
    for index in range(count):
        number = index // per_service_principal
        sp_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/servicePrincipal/{number}"))
        if not sp_ids or sp_ids[-1] != sp_id:
            tenant.add_service_principal(sp_id, display_name=app_display_name(number))
            sp_ids.append(sp_id)
        kind = rng.choices(kinds, weights)[0]
        status = kind_status(kind, now - random_offset_ns(rng, 0, 1800))
        tenant.add_job(sp_id, generated_job_id("scim", f"{seed}/{index}"), status=status)
    return sp_ids


def populate_demo_provisioning(tenant: SimulatedTenant, now_ns: int) -> None:
    """Add the demo's service principals: those of :data:`DEMO_PRINCIPALS` with their jobs
    (healthy, quarantined on escrows, with entry-level errors, paused, stalled, refused), each
    followed by its share of :data:`DEMO_IDLE_SERVICE_PRINCIPALS` without jobs; and the
    provisioning logs of the cross-tenant job."""
    share = -(-DEMO_IDLE_SERVICE_PRINCIPALS // len(DEMO_PRINCIPALS))
    for number, principal in enumerate(DEMO_PRINCIPALS):
        tenant.add_service_principal(principal.id, display_name=principal.display_name)
        for template_id, kind in principal.jobs:
            job_id = demo_job_id(principal, template_id, kind)
            tenant.add_job(
                principal.id, job_id, template_id=template_id, status=kind_status(kind, now_ns)
            )
        if principal.refused:
            tenant.refuse_jobs(principal.id)
        idle = range(number * share, min((number + 1) * share, DEMO_IDLE_SERVICE_PRINCIPALS))
        for index in idle:
            sp_id = str(uuid.uuid5(ID_NAMESPACE, f"demo/servicePrincipal/idle/{index}"))
            tenant.add_service_principal(sp_id, display_name=app_display_name(index))
    tenant.add_provisioning_events(demo_provisioning_events(now_ns))


def demo_provisioning_events(now_ns: int) -> list[dict[str, Any]]:
    """The cross-tenant job's failures and successes of the last five hours, and two of the
    Dropbox job's successes."""
    cross_tenant = DEMO_PRINCIPALS[4]
    subject = {
        "service_principal_id": cross_tenant.id,
        "service_principal_name": cross_tenant.display_name,
        "target_system": "Azure Active Directory (Fabrikam)",
    }
    events = [
        provisioning_failure(
            DEMO_CROSS_TENANT_JOB_ID,
            error_code=code,
            activity_ns=now_ns - minutes * MINUTE_NS,
            action=action,
            user=user,
            **subject,
        )
        for minutes, user, action, code in DEMO_FAILURES
    ]
    events += [
        provisioning_success(
            DEMO_CROSS_TENANT_JOB_ID,
            activity_ns=now_ns - minutes * MINUTE_NS,
            action=action,
            user=user,
            **subject,
        )
        for minutes, user, action in DEMO_SUCCESSES
    ]
    dropbox = DEMO_PRINCIPALS[2]
    events += [
        provisioning_success(
            demo_job_id(dropbox, "dropboxSCIM", "Active"),
            activity_ns=now_ns - hours * HOUR_NS,
            service_principal_id=dropbox.id,
            service_principal_name=dropbox.display_name,
            action="create",
            user=user,
        )
        for hours, user in ((1, "Patti Fernandez"), (3, "Johanna Lorenz"))
    ]
    return events
