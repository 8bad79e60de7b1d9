"""Tests of the simulated tenant's provisioning logs (``auditLogs/provisioning``): the events,
newest first and paged, the ``$filter`` clauses Graph's logs take (case-sensitive), and the
identity reports' throttling of 5 requests in 10 seconds. Over real HTTP against an in-process
tenant, like test_graph_tenant.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tools.graph_tenant import (
    DEMO_CROSS_TENANT_JOB_ID,
    DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID,
    SimulatedTenant,
    populate_demo,
    provisioning_event,
    provisioning_failure,
    provisioning_success,
)

LOGS = "/v1.0/auditLogs/provisioning"
# Every property of Graph's provisioningObjectSummary (v1.0).
EVENT_PROPERTIES = {
    "id",
    "activityDateTime",
    "changeId",
    "cycleId",
    "durationInMilliseconds",
    "initiatedBy",
    "jobId",
    "modifiedProperties",
    "provisioningAction",
    "provisioningStatusInfo",
    "provisioningSteps",
    "servicePrincipal",
    "sourceIdentity",
    "sourceSystem",
    "targetIdentity",
    "targetSystem",
}
BASE_NS = int(datetime(2026, 11, 26, 10, tzinfo=UTC).timestamp()) * 1_000_000_000
HOUR_NS = 3600 * 1_000_000_000


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant(page_size=2) as running:
        running.set_report_rate_limit(0)  # most tests read the logs more than 5 times
        yield running


@pytest.fixture
async def client(tenant: SimulatedTenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tenant.url, timeout=5, trust_env=False) as http:
        yield http


def add_events(tenant: SimulatedTenant) -> list[dict[str, Any]]:
    """Four events an hour apart from 08:00 to 11:00 (added out of order), two jobs."""
    events = [
        provisioning_failure("job.a", activity_ns=BASE_NS - 2 * HOUR_NS, user="Lee Gu"),
        provisioning_success("job.a", activity_ns=BASE_NS + HOUR_NS, user="Megan Bowen"),
        provisioning_event("skipped", "job.b", activity_ns=BASE_NS, user="Alex Wilber"),
        provisioning_failure(
            "job.b", activity_ns=BASE_NS - HOUR_NS, user="Joni Sherman", action="create"
        ),
    ]
    tenant.add_provisioning_events(events)
    return events


async def listed_users(client: httpx.AsyncClient, query: str) -> list[str]:
    page = (await client.get(LOGS, params={"$filter": query, "$top": "50"})).json()
    return [event["sourceIdentity"]["displayName"] for event in page["value"]]


# -- listing ---------------------------------------------------------------------------------


async def test_events_are_listed_newest_first_verbatim_and_paged(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    events = add_events(tenant)
    tenant.add_provisioning_events([{"id": "odd", "activityDateTime": "yesterday"}])

    first = (await client.get(LOGS)).json()
    rest = [(await client.get(first["@odata.nextLink"])).json()]
    while "@odata.nextLink" in rest[-1]:
        rest.append((await client.get(rest[-1]["@odata.nextLink"])).json())
    topped = (await client.get(LOGS, params={"$top": "4"})).json()
    single = (await client.get(f"{LOGS}/{events[0]['id']}")).json()
    missing = await client.get(f"{LOGS}/nope")
    other_report = await client.get("/v1.0/auditLogs/signIns")

    assert first["@odata.context"] == f"{tenant.url}/v1.0/$metadata#auditLogs/provisioning"
    assert first["@odata.nextLink"].startswith(f"{tenant.url}{LOGS}?$skiptoken=")
    listed = [event for page in [first, *rest] for event in page["value"]]
    assert [event["activityDateTime"] for event in listed] == [
        "2026-11-26T11:00:00Z",
        "2026-11-26T10:00:00Z",
        "2026-11-26T09:00:00Z",
        "2026-11-26T08:00:00Z",
        "yesterday",  # unreadable times last
    ]
    assert listed[3] == events[0]
    assert len(topped["value"]) == 4
    assert single["id"] == events[0]["id"]
    assert missing.status_code == 404
    assert other_report.status_code == 404
    assert tenant.provisioning_events == listed
    tenant.clear_provisioning_events()
    assert (await client.get(LOGS)).json()["value"] == []


def test_builders_make_whole_deterministic_events() -> None:
    failure = provisioning_failure(
        "Azure2Azure.abc.def",
        activity_ns=BASE_NS,
        service_principal_id="sp-1",
        service_principal_name="Fabrikam cross-tenant sync",
        action="create",
    )
    success = provisioning_success("Azure2Azure.abc.def", activity_ns=BASE_NS + 1)

    assert set(failure) == EVENT_PROPERTIES
    assert failure == provisioning_failure(
        "Azure2Azure.abc.def",
        activity_ns=BASE_NS,
        service_principal_id="sp-1",
        service_principal_name="Fabrikam cross-tenant sync",
        action="create",
    )
    assert failure["activityDateTime"] == "2026-11-26T10:00:00Z"
    assert failure["provisioningAction"] == "create"
    assert failure["initiatedBy"]["initiatorType"] == "application"
    assert failure["servicePrincipal"] == {
        "id": "sp-1",
        "displayName": "Fabrikam cross-tenant sync",
    }
    info = failure["provisioningStatusInfo"]
    assert info["status"] == "failure"
    error = info["errorInformation"]
    assert set(error) == {
        "errorCode",
        "errorCategory",
        "reason",
        "additionalDetails",
        "recommendedAction",
    }
    assert error["errorCode"] == "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises"
    assert error["errorCategory"] == "NonServiceFailure"
    assert error["reason"]
    assert error["recommendedAction"]
    steps = failure["provisioningSteps"]
    assert [step["provisioningStepType"] for step in steps] == [
        "import",
        "scoping",
        "matching",
        "export",
    ]
    assert steps[-1]["status"] == "failure"
    assert all(
        set(step) == {"name", "provisioningStepType", "status", "description", "details"}
        for step in steps
    )
    for name in ("sourceIdentity", "targetIdentity"):
        assert set(failure[name]) == {"id", "displayName", "identityType", "details"}
    assert failure["targetIdentity"]["id"] == ""  # the user was never created
    assert success["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert success["modifiedProperties"]
    assert success["cycleId"] == failure["cycleId"]  # same job, same 40-minute cycle
    assert success["id"] != failure["id"]
    with pytest.raises(ValueError, match="provisioningAction"):
        provisioning_success("job", action="rename")


# -- $filter ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "users"),
    [
        ("activityDateTime ge 2026-11-26T10:00:00Z", ["Megan Bowen", "Alex Wilber"]),
        ("activityDateTime gt 2026-11-26T10:00:00Z", ["Megan Bowen"]),
        ("activityDateTime le 2026-11-26T09:00:00.0000000Z", ["Joni Sherman", "Lee Gu"]),
        ("activityDateTime lt 2026-11-26T09:00:00.1Z", ["Joni Sherman", "Lee Gu"]),
        ("activityDateTime eq 2026-11-26T08:00:00Z", ["Lee Gu"]),
        ("provisioningStatusInfo/status eq 'failure'", ["Joni Sherman", "Lee Gu"]),
        ("provisioningStatusInfo/status eq 'skipped'", ["Alex Wilber"]),
        ("provisioningStatusInfo/status eq 'Failure'", []),
        ("jobId eq 'job.b'", ["Alex Wilber", "Joni Sherman"]),
        ("jobId eq 'JOB.B'", []),
        (
            "activityDateTime ge 2026-11-26T08:30:00Z and provisioningStatusInfo/status eq "
            "'failure' and jobId eq 'job.b'",
            ["Joni Sherman"],
        ),
    ],
)
async def test_filters_select_events_case_sensitively(
    tenant: SimulatedTenant, client: httpx.AsyncClient, query: str, users: list[str]
) -> None:
    add_events(tenant)

    assert await listed_users(client, query) == users


async def test_cycle_filter_and_filtered_next_links(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    events = add_events(tenant)
    query = "provisioningStatusInfo/status eq 'failure' or jobId eq 'x'"
    tenant.add_provisioning_events(
        [provisioning_failure("job.c", activity_ns=BASE_NS + n, user=query) for n in range(3)]
    )

    by_cycle = await listed_users(client, f"cycleId eq '{events[2]['cycleId']}'")
    first = (await client.get(LOGS, params={"$filter": "jobId eq 'job.c'"})).json()
    second = (await client.get(first["@odata.nextLink"])).json()
    quoted = await listed_users(client, "jobId eq 'it''s' and jobId eq 'and'")

    assert by_cycle == ["Alex Wilber"]
    assert "$filter=jobId%20eq%20'job.c'&$skiptoken=" in first["@odata.nextLink"]
    assert len(first["value"]) == 2
    assert [event["jobId"] for event in second["value"]] == ["job.c"]
    assert "@odata.nextLink" not in second
    assert quoted == []


@pytest.mark.parametrize(
    ("query", "clause"),
    [
        ("displayName eq 'x'", "displayName eq 'x'"),
        ("activitydatetime ge 2026-11-26T10:00:00Z", "activitydatetime ge 2026-11-26T10:00:00Z"),
        (
            "jobId eq 'a' and provisioningStatusInfo/status eq failure",
            "provisioningStatusInfo/status eq failure",
        ),
        (
            "activityDateTime ge '2026-11-26T10:00:00Z'",
            "activityDateTime ge '2026-11-26T10:00:00Z'",
        ),
        ("activityDateTime ge 2026-13-45T10:00:00Z", "activityDateTime ge 2026-13-45T10:00:00Z"),
        ("jobId ne 'a'", "jobId ne 'a'"),
        ("jobId eq 'a' or jobId eq 'b'", "jobId eq 'a' or jobId eq 'b'"),
        ("", ""),
    ],
)
async def test_other_filters_are_bad_requests_naming_the_clause(
    client: httpx.AsyncClient, query: str, clause: str
) -> None:
    response = await client.get(LOGS, params={"$filter": query})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["message"] == f"Invalid filter clause: {clause}"


# -- throttling ------------------------------------------------------------------------------


async def test_the_sixth_request_in_ten_seconds_is_throttled_with_retry_after() -> None:
    async with (
        SimulatedTenant() as tenant,
        httpx.AsyncClient(base_url=tenant.url, trust_env=False) as client,
    ):
        answers = [await client.get(LOGS) for _ in range(6)]
        batch = await client.post(
            "/v1.0/$batch",
            json={"requests": [{"id": "1", "method": "GET", "url": "/auditLogs/provisioning"}]},
        )
        unrelated = await client.get("/v1.0/organization")

    assert tenant.report_rate_limit == (5, 10.0)
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    throttled = answers[-1]
    assert throttled.headers["Retry-After"] in {"9", "10"}
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    sub_answer = batch.json()["responses"][0]
    assert sub_answer["status"] == 429
    assert int(sub_answer["headers"]["Retry-After"]) >= 1
    assert unrelated.status_code == 200
    assert tenant.report_throttled_count == 2
    assert tenant.throttled_count == 2


async def test_the_window_slides_and_the_limit_can_be_changed(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.set_report_rate_limit(2, 0.3)

    first = [(await client.get(LOGS)).status_code for _ in range(3)]
    await asyncio.sleep(0.35)
    after = [(await client.get(LOGS)).status_code for _ in range(3)]
    tenant.set_report_rate_limit(0)
    unlimited = {(await client.get(LOGS)).status_code for _ in range(12)}

    assert first == [200, 200, 429]
    assert after == [200, 200, 429]
    assert unlimited == {200}
    assert tenant.report_throttled_count == 2
    for bad in ((-1, 10.0), (5, 0), (1.5, 10.0)):
        with pytest.raises(ValueError, match=r"requests|per_seconds"):
            tenant.set_report_rate_limit(*bad)  # type: ignore[arg-type]


async def test_control_api_manages_events_and_the_rate_limit(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    one = provisioning_failure("job.a", activity_ns=BASE_NS)
    two = provisioning_success("job.a", activity_ns=BASE_NS + HOUR_NS)

    added_one = await client.post("/_tenant/auditLogs/provisioning", json=one)
    added_list = await client.post("/_tenant/auditLogs/provisioning", json=[two, {"id": "x"}])
    bad = await client.post("/_tenant/auditLogs/provisioning", json=[1])
    listed = (await client.get("/_tenant/auditLogs/provisioning")).json()["value"]
    cleared = await client.delete("/_tenant/auditLogs/provisioning")
    limited = await client.put("/_tenant/auditLogs/rateLimit", json={"requests": 1})
    answers = [(await client.get(LOGS)).status_code for _ in range(2)]
    current = (await client.get("/_tenant/auditLogs/rateLimit")).json()
    bad_limit = await client.put("/_tenant/auditLogs/rateLimit", json={"requests": "many"})
    missing = await client.put("/_tenant/auditLogs/rateLimit", json={"perSeconds": 3})

    assert added_one.status_code == 201
    assert added_list.json() == {"added": 2}
    assert bad.status_code == 400
    assert [event["id"] for event in listed] == [two["id"], one["id"], "x"]
    assert cleared.status_code == 204
    assert tenant.provisioning_events == []
    assert limited.json() == {"requests": 1, "perSeconds": 10.0, "throttledCount": 0}
    assert answers == [200, 429]
    assert current == {"requests": 1, "perSeconds": 10.0, "throttledCount": 1}
    assert bad_limit.status_code == 400
    assert missing.status_code == 400


# -- demo ------------------------------------------------------------------------------------


async def test_demo_logs_the_cross_tenant_jobs_recent_failures(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    populate_demo(tenant, random.Random(1))

    query = f"provisioningStatusInfo/status eq 'failure' and jobId eq '{DEMO_CROSS_TENANT_JOB_ID}'"
    failures = (await client.get(LOGS, params={"$filter": query, "$top": "50"})).json()["value"]
    everything = (await client.get(LOGS, params={"$top": "50"})).json()["value"]

    assert len(failures) == 7
    codes = [event["provisioningStatusInfo"]["errorInformation"]["errorCode"] for event in failures]
    assert codes.count("AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises") == 4
    assert len(set(codes)) == 3
    assert {event["servicePrincipal"]["id"] for event in failures} == {
        DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID
    }
    assert all(set(event) == EVENT_PROPERTIES for event in everything)
    assert any(event["provisioningStatusInfo"]["status"] == "success" for event in everything)
    times = [event["activityDateTime"] for event in everything]
    assert times == sorted(times, reverse=True)
    newest = datetime.strptime(times[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    oldest = datetime.strptime(times[-1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (datetime.now(UTC) - oldest).total_seconds() < 6 * 3600
    assert (datetime.now(UTC) - newest).total_seconds() < 3600
