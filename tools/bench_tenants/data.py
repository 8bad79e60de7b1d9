"""What every process of the benchmark derives alike from its arguments: the tenants' ids,
which of them have a provisioning job whose logs are read, the ids of those jobs, the
registry bodies, the app settings, and the fewest Graph requests a round can make.

The simulated Graph (``graph``) builds its data from these, and the driver registers the
same tenants from them: nothing but the arguments has to travel between the processes.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from tools.bench_poll import GRAPH_BATCH_SIZE, app_pages

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "syncstatus/bench_tenants")
# The source of provisioning jobs, as the registry names it (shared.sources).
JOBS_SOURCE = "synchronizationJobs"
# Failures in each job's provisioning logs, an hour apart, the newest this many hours old:
# older than a read's overlap, so the unchanged round finds no new ones (nothing rewritten).
FAILURES_PER_JOB = 3
NEWEST_FAILURE_HOURS = 2
# No timer run during a benchmark: once a year (the driver plans each round itself).
FAR_SCHEDULE = "0 0 0 1 1 *"
# A poll may read Graph this long (the whole baseline round is one invocation).
DEADLINE_SECONDS = "86400"


def tenant_ids(count: int) -> list[str]:
    return [str(uuid.uuid5(NAMESPACE, str(index))) for index in range(count)]


def reads_logs(index: int, share: float) -> bool:
    """Whether tenant ``index`` has a provisioning job whose logs are read: spread evenly,
    ``share`` of the tenants (every one at 1, none at 0)."""
    return math.floor((index + 1) * share) > math.floor(index * share)


def service_principal_id(index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{index}/servicePrincipal"))


def job_id(index: int) -> str:
    first, second = (uuid.uuid5(NAMESPACE, f"{index}/job/{part}").hex for part in (1, 2))
    return f"scim.{first}.{second}"


def registration(index: int, tenant_id: str, share: float) -> dict[str, Any]:
    """The ``POST /api/tenants`` body of tenant ``index``: School Data Sync (the app's
    setting), and for a tenant with a job its provisioning jobs, its principal named (no
    discovery) and the provisioning logs read."""
    body: dict[str, Any] = {"tenantId": tenant_id, "displayName": f"Bench tenant {index:04d}"}
    if reads_logs(index, share):
        options = {
            "PROVISIONING_SERVICE_PRINCIPAL_IDS": service_principal_id(index),
            "PROVISIONING_LOGS_ENABLED": "true",
        }
        body["sources"] = {JOBS_SOURCE: {"enabled": True, "options": options}}
    return body


def app_settings(storage: str, graph_url: str, home_tenant_id: str) -> dict[str, str]:
    """The app settings every process of the app gets (the table prefix and queue names
    come on top, per configuration: ``tools.processes.storage_names``). The round's
    messages are not spread (POLL_SPREAD_SECONDS=0): all visible at once."""
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": storage,
        "GRAPH_BASE_URL": graph_url,
        "GRAPH_AUTH": "simulated",
        "HOME_TENANT_ID": home_tenant_id,
        "SDS_PROFILES_ENABLED": "true",
        "PROVISIONING_JOBS_ENABLED": "false",
        "DIRECTORY_SYNC_ENABLED": "false",
        "INDUSTRY_DATA_RUNS_ENABLED": "false",
        "POLL_SCHEDULE": FAR_SCHEDULE,
        "POLL_DEADLINE_SECONDS": DEADLINE_SECONDS,
        "POLL_SPREAD_SECONDS": "0",
        "PYTHONUNBUFFERED": "1",
    }


def floor_per_tenant(items: int, with_logs: bool = False, first_round: bool = False) -> int:
    """The fewest Graph requests a round can make for a tenant of ``items`` profiles: the
    listing's pages at $top=999 (one even when empty), then every profileStatus, 20 to a
    ``$batch``; with a job whose logs are read, its principal's jobs (one page) and one
    read of the provisioning logs, and in the first round the principal's name (one
    ``$batch``: discovery's read of named principals)."""
    sds = app_pages(items) + math.ceil(items / GRAPH_BATCH_SIZE)
    return sds + ((3 if first_round else 2) if with_logs else 0)
