"""Provisioning failures from the provisioning logs (``PROVISIONING_LOGS_ENABLED``): read
tenant-wide once per poll, kept per job, named in the job's reason and served in Graph's
shape; a log read that is refused or throttled never fails the jobs' poll."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from shared import composition
from shared.core.time import parse_timestamp
from shared.sources.provisioning_jobs.cached import FAILURES_PART
from shared.storage.store import StatusStore
from tests.support.app import App
from tools import graph_tenant as graph

JOBS = "synchronizationJobs"
SP = "6b2d1f4f-8c9e-4d3a-8f5b-2e3c4d5e6f01"
MASTERED = "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises"
LOGS_PATH = "/v1.0/auditLogs/provisioning"
MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS


@pytest.fixture
def logs_on(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    monkeypatch.setenv("PROVISIONING_LOGS_ENABLED", "true")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("logs_on")


def failing_job(tenant: Any) -> str:
    """A cross-tenant sync job with entry-level errors and 7 failed users in its logs (5 of one
    error, 2 of another, 40 to 46 minutes ago: older than the 30 minutes each read overlaps the
    one before), a success, an older failure past the 24-hour
    window, and a failure of a job the app does not monitor."""
    tenant.add_service_principal(SP, display_name="Fabrikam cross-tenant sync")
    job_id = tenant.add_job(
        SP, template_id="Azure2Azure", status=graph.entry_level_errors_job_status()
    )
    now = time.time_ns()
    events = [
        graph.provisioning_failure(
            job_id, activity_ns=now - (40 + i) * MINUTE_NS, user=f"User {i}",
            error_code=MASTERED if i < 5 else "AzureActiveDirectoryInvalidDomain",
            service_principal_id=SP,
        )
        for i in range(7)
    ]  # fmt: skip
    events.append(graph.provisioning_success(job_id, activity_ns=now - 5 * 10**9))
    events.append(
        graph.provisioning_failure(job_id, activity_ns=now - 30 * HOUR_NS, user="Old failure")
    )
    elsewhere = graph.provisioning_failure("another.job", activity_ns=now - 45 * MINUTE_NS)
    events.append(elsewhere)
    tenant.add_provisioning_events(events)
    return job_id


def log_requests(tenant: Any) -> list[Any]:
    return [r for r in tenant.requests if r.path.startswith(LOGS_PATH)]


async def job_row(app: App, job_id: str) -> dict[str, Any]:
    reply = await app.statuses(source=JOBS)
    (row,) = [row for row in reply.json()["value"] if row["id"] == f"{SP}:{job_id}"]
    return row


async def kept_summary(key: str) -> dict[str, Any]:
    """The provisioning-log summary kept with the job's cache entry."""
    store = StatusStore.from_settings(composition.settings())
    try:
        item = await store.statuses.get(JOBS, key)
    finally:
        await store.close()
    assert item is not None
    return item.document(FAILURES_PART)


async def failures(app: App, **params: str) -> Any:
    return await app.call("list_provisioning_failures", params=params)


async def jobs_last_poll(app: App) -> dict[str, Any]:
    (entry,) = [s for s in (await app.health()).json()["sources"] if s["source"] == JOBS]
    return entry["lastPoll"]


async def logs_report(app: App) -> dict[str, Any]:
    return (await jobs_last_poll(app))["details"]["provisioningLogs"]


async def test_a_jobs_failures_are_summed_up_in_its_reason_from_one_query(
    app: App, tenant: Any
) -> None:
    job_id = failing_job(tenant)
    tenant.clear_requests()
    await app.poll()
    (query,) = log_requests(tenant)  # one query, tenant-wide, for failures only
    assert query.query["$filter"].startswith("activityDateTime ge ")
    assert query.query["$filter"].endswith(" and provisioningStatusInfo/status eq 'failure'")
    row = await job_row(app, job_id)
    assert row["health"] == "warning"
    assert row["reason"].endswith(
        f" 7 users failed to provision in the last 24 h, mostly {MASTERED}."
    )
    report = await logs_report(app)
    assert (report["outcome"], report["requests"], report["ignored"]) == ("read", 1, 1)
    summary = await kept_summary(f"{SP}:{job_id}")
    assert summary["failedObjects"] == 7
    assert [(e["errorCode"], e["count"]) for e in summary["topErrors"]] == [
        (MASTERED, 5),
        ("AzureActiveDirectoryInvalidDomain", 2),
    ]
    example = summary["topErrors"][0]["example"]
    assert example["sourceIdentity"] == "User 0"  # the newest failure with that code
    assert example["provisioningAction"] == "update"
    assert example["reason"] and example["recommendedAction"]
    reply = await failures(app, **{"$filter": f"jobId eq '{job_id}'"})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#auditLogs/provisioning")
    sent = {e["id"]: e for e in tenant.provisioning_events if e["jobId"] == job_id}
    # The 7 of the last 24 h: not the success, nor the older failure (a first read looks back
    # 24 h).
    assert len(body["value"]) == 7
    for served in body["value"]:
        assert served == sent[served["id"]]  # as Graph sent it
    times = [e["activityDateTime"] for e in body["value"]]
    assert times == sorted(times, reverse=True)


async def test_each_poll_reads_one_query_and_its_pages_since_the_last_read(
    app: App, tenant: Any
) -> None:
    job_id = failing_job(tenant)
    tenant.max_page_size = 3  # the logs answer 3 at a time whatever $top asks
    tenant.clear_requests()
    await app.poll()
    assert len(log_requests(tenant)) == 3  # 8 failures in 24 h: a query and two nextLinks
    first_read = (await logs_report(app))["since"]
    first_started = (await jobs_last_poll(app))["startedDateTime"]
    tenant.clear_requests()
    await app.poll()  # since the first read (less 15 min): nothing new, one request
    (again,) = log_requests(tenant)
    since = parse_timestamp(again.query["$filter"].split()[2])
    # From the first read's start, less the 30 minutes each read overlaps the one before.
    started = parse_timestamp(first_started)
    assert started - timedelta(minutes=31) < since <= started - timedelta(minutes=29)
    assert since > parse_timestamp(first_read)
    assert (await logs_report(app))["failures"] == 0
    paged = await failures(app, **{"$filter": f"jobId eq '{job_id}'", "$top": "5"})
    page = paged.json()
    assert len(page["value"]) == 5 and "@odata.nextLink" in page


async def test_the_failure_route_takes_only_a_job_filter_and_top(app: App, tenant: Any) -> None:
    job_id = failing_job(tenant)
    await app.poll()
    cases = [
        {},
        {"$filter": "jobId eq 'x' and cycleId eq 'y'"},
        {"$filter": f"jobid eq '{job_id}'"},
        {"$filter": f"jobId eq '{job_id}'", "$orderby": "activityDateTime"},
    ]
    for params in cases:
        reply = await failures(app, **params)
        assert reply.status == 400, (params, reply.body)
        message = reply.json()["error"]["message"]
        assert "$filter=jobId eq '{jobId}' and $top only" in message
    unknown = await failures(app, **{"$filter": "jobId eq 'not.monitored'"})
    assert unknown.status == 404
    assert unknown.json()["error"]["code"] == "ResourceNotFound"


@pytest.mark.parametrize(
    ("status", "outcome"), [(403, "refused"), (429, "throttled"), (500, "failed")]
)
async def test_a_log_read_that_fails_leaves_the_jobs_status_intact(
    app: App, tenant: Any, status: int, outcome: str
) -> None:
    job_id = failing_job(tenant)
    await app.poll()
    tenant.set_job_status(SP, job_id, code="Paused")
    tenant.add_fault(LOGS_PATH, status=status, retry_after=1, times=None)
    await app.poll()
    failed_since = (await logs_report(app))["since"]
    row = await job_row(app, job_id)
    assert (row["status"], row["health"]) == ("Paused", "warning")
    assert MASTERED in row["reason"]  # what was kept still explains the job
    report = await logs_report(app)
    assert report["outcome"] == outcome and report["error"]["status"] == status
    health = await app.health()
    assert health.status == 200
    tenant.clear_faults()
    await app.poll()  # a failed read moved nothing on: the next one starts where it did
    assert (await logs_report(app))["since"] == failed_since


async def test_a_throttled_log_read_is_sent_once_so_each_request_took_a_grant(
    app: App, tenant: Any
) -> None:
    """The report budget is counted per request Graph sees: the SDK does not send a throttled
    report request again behind the pacer's back (the next poll reads on)."""
    failing_job(tenant)
    await app.poll()
    fault = tenant.add_fault(LOGS_PATH, status=429, retry_after=1, times=None)
    await app.poll()
    assert fault.hits == 1
    assert (await logs_report(app))["outcome"] == "throttled"


async def test_failures_of_a_job_not_read_this_poll_are_kept_for_it(app: App, tenant: Any) -> None:
    job_id = failing_job(tenant)
    tenant.clear_provisioning_events()
    await app.poll()  # the job is cached; its logs are empty
    events = [
        graph.provisioning_failure(job_id, service_principal_id=SP, user=f"Late {i}",
                                   activity_ns=time.time_ns() - (5 + i) * MINUTE_NS)
        for i in range(2)
    ]  # fmt: skip
    tenant.add_provisioning_events(events)
    tenant.add_fault(f"/v1.0/servicePrincipals/{SP}/synchronization/jobs", status=500, times=None)
    await app.poll()  # its principal fails: the job is not read, its failures are kept
    tenant.clear_faults()
    reply = await failures(app, **{"$filter": f"jobId eq '{job_id}'"})
    assert len(reply.json()["value"]) == 2
    await app.poll()
    assert (await job_row(app, job_id))["reason"].endswith(
        f" 2 users failed to provision in the last 24 h: {MASTERED}."
    )
