"""Tests of the simulated Graph tenant, over real HTTP against an in-process instance.

The app's integration and end-to-end tests trust this tenant to behave like Graph, so these
tests pin the Graph behaviours it mirrors (paging, the evolvable-enum rule, error bodies,
provisioning jobs, Industry Data runs, JSON batching, throttling) and the steering interfaces
(Python API, control API, command line).
"""

from __future__ import annotations

import json
import random
import re
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.graph_tenant import PROFILES, graph_tenant_process, jobs_path
from tools.graph_tenant import (
    DEMO_JOB_SERVICE_PRINCIPAL_IDS,
    DEMO_SCHOOLS,
    DEMO_SERVICE_PRINCIPAL_IDS,
    SimulatedTenant,
    blocking_error,
    decode_skiptoken,
    demo_tick,
    entry_level_errors_job_status,
    evolve_status,
    failed_job_status,
    graph_timestamp,
    healthy_job_status,
    job_status,
    next_demo_status,
    populate_demo,
    populate_jobs,
    populate_profiles,
    populate_runs,
    quarantined_job_status,
    run_statistics,
)

RUNS = "/beta/external/industryData/runs"
GRAPH_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")
# Every property of Graph's synchronizationStatus and synchronizationTaskExecution pages.
STATUS_PROPERTIES = {
    "code",
    "countSuccessiveCompleteFailures",
    "escrowsPruned",
    "lastExecution",
    "lastSuccessfulExecution",
    "lastSuccessfulExecutionWithExports",
    "progress",
    "quarantine",
    "steadyStateFirstAchievedTime",
    "steadyStateLastAchievedTime",
    "synchronizedEntryCountByType",
    "troubleshootingUrl",
}
EXECUTION_PROPERTIES = {
    "activityIdentifier",
    "countEntitled",
    "countEntitledForProvisioning",
    "countEscrowed",
    "countEscrowedRaw",
    "countExported",
    "countExports",
    "countImported",
    "countImportedDeltas",
    "countImportedReferenceDeltas",
    "error",
    "state",
    "timeBegan",
    "timeEnded",
}


def status_path(profile_id: str) -> str:
    return f"{PROFILES}/{profile_id}/profileStatus"


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant(page_size=2) as running:
        yield running


def add_profiles(tenant: SimulatedTenant, count: int) -> list[str]:
    ids = [f"p{index}" for index in range(1, count + 1)]
    for profile_id in ids:
        tenant.add_profile(profile_id, display_name=f"School {profile_id}")
    return ids


async def test_url_exists_only_while_running() -> None:
    tenant = SimulatedTenant()
    with pytest.raises(RuntimeError):
        _ = tenant.url

    url = await tenant.start()
    assert tenant.url == url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    await tenant.stop()

    with pytest.raises(RuntimeError):
        _ = tenant.url


async def test_start_on_a_busy_port_fails_and_can_be_retried() -> None:
    async with SimulatedTenant() as running:
        port = int(running.url.rsplit(":", 1)[1])
        second = SimulatedTenant()
        with pytest.raises(OSError, match="in use"):
            await second.start(port=port)
        url = await second.start()
        await second.stop()

        assert url != running.url


# -- listing and paging ----------------------------------------------------------------------


async def test_listing_pages_follow_next_link_in_insertion_order(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    ids = add_profiles(tenant, 5)
    pages: list[dict[str, Any]] = []
    url: str | None = PROFILES
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        pages.append(response.json())
        url = pages[-1].get("@odata.nextLink")

    assert [len(page["value"]) for page in pages] == [2, 2, 1]
    assert [profile["id"] for page in pages for profile in page["value"]] == ids
    assert pages[0]["@odata.context"] == (
        f"{tenant.url}/beta/$metadata#education/synchronizationProfiles"
    )
    next_link = pages[0]["@odata.nextLink"]
    assert next_link.startswith(f"{tenant.url}{PROFILES}?$skiptoken=")
    assert "offset" not in next_link  # opaque, not a readable offset
    assert "@odata.nextLink" not in pages[-1]
    assert pages[0]["value"][0] == {
        "id": "p1",
        "displayName": "School p1",
        "state": "provisioned",
        "dataProvider": {
            "@odata.type": "#microsoft.graph.educationCsvDataProvider",
            "customizations": None,
        },
        "expirationDate": "2027-06-30",
        "handleSpecialCharacterConstraint": False,
    }


async def test_top_sets_the_page_size_and_carries_over_to_next_pages(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    add_profiles(tenant, 7)
    first = (await client.get(PROFILES, params={"$top": "3"})).json()
    second = (await client.get(first["@odata.nextLink"])).json()
    third = (await client.get(second["@odata.nextLink"])).json()

    assert [p["id"] for p in first["value"]] == ["p1", "p2", "p3"]
    assert [p["id"] for p in second["value"]] == ["p4", "p5", "p6"]
    assert [p["id"] for p in third["value"]] == ["p7"]
    assert "@odata.nextLink" not in third
    everything = (await client.get(PROFILES, params={"$top": "999"})).json()
    assert len(everything["value"]) == 7
    assert "@odata.nextLink" not in everything


@pytest.mark.parametrize("top", ["0", "1000", "ten"])
async def test_top_out_of_range_is_a_bad_request(client: httpx.AsyncClient, top: str) -> None:
    response = await client.get(PROFILES, params={"$top": top})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


@pytest.mark.parametrize(
    "token", ["not-base64!", "eyJmb28iOiAxfQ", "eyJvZmZzZXQiOiAtMSwgInRvcCI6IDJ9"]
)
async def test_invalid_skiptoken_is_a_graph_bad_request(
    tenant: SimulatedTenant, client: httpx.AsyncClient, token: str
) -> None:
    add_profiles(tenant, 3)

    response = await client.get(PROFILES, params={"$skiptoken": token})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert "$skiptoken" in error["message"]
    with pytest.raises(ValueError, match="skiptoken"):
        decode_skiptoken(token)


async def test_empty_tenant_lists_one_empty_page(client: httpx.AsyncClient) -> None:
    body = (await client.get(PROFILES)).json()

    assert body["value"] == []
    assert "@odata.nextLink" not in body


# -- single resources ------------------------------------------------------------------------


async def test_get_profile_and_unknown_ids(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1", display_name="Contoso", state="provisioning")

    profile = (await client.get(f"{PROFILES}/p1")).json()
    missing_profile = await client.get(f"{PROFILES}/nope")
    missing_status = await client.get(status_path("nope"))

    assert profile["displayName"] == "Contoso"
    assert profile["state"] == "provisioning"
    assert profile["@odata.context"].endswith("#education/synchronizationProfiles/$entity")
    for response in (missing_profile, missing_status):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ResourceNotFound"


async def test_default_status_is_a_realistic_success(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")

    body = (await client.get(status_path("p1"))).json()

    assert body["@odata.context"] == (
        f"{tenant.url}/beta/$metadata#education/synchronizationProfiles('p1')/profileStatus/$entity"
    )
    assert body["id"] == "p1"
    assert body["status"] == "success"
    assert body["errorCount"] == 0
    assert GRAPH_TIMESTAMP.fullmatch(body["lastSynchronizationDateTime"])
    assert "\r\n" in body["statusMessage"]


async def test_status_is_served_verbatim(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    status = {
        "id": "p1",
        "status": "someFutureStatus",
        "lastSynchronizationDateTime": "2021-07-13T20:55:17.6475128Z",
        "lastActivityDateTime": "2021-07-13T20:55:17.6475128Z",
        "errorCount": 2**63 - 1,
        "statusMessage": "Processed 0 in the last hour.\r\nUpdated 0 in the last hour. – é",
        "extraProperty": {"nested": [1, None]},
    }
    tenant.add_profile("p1", status=status)
    status["errorCount"] = 0  # the tenant keeps its own copy

    response = await client.get(status_path("p1"))

    assert "9223372036854775807" in response.text
    assert "2021-07-13T20:55:17.6475128Z" in response.text
    body = response.json()
    assert body.pop("@odata.context").endswith("/profileStatus/$entity")
    assert body == {**status, "errorCount": 2**63 - 1}


async def test_set_status_merges_and_remove_profile_deletes(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")
    before = tenant.profiles["p1"]["status"]

    tenant.set_status("p1", status="error", errorCount=3)
    after = (await client.get(status_path("p1"))).json()
    tenant.remove_profile("p1")
    gone = await client.get(status_path("p1"))

    assert after["status"] == "error"
    assert after["errorCount"] == 3
    assert after["statusMessage"] == before["statusMessage"]
    assert gone.status_code == 404
    assert tenant.profiles == {}


# -- evolvable enum --------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["extracting", "validating"])
async def test_new_enum_members_need_the_prefer_header(
    tenant: SimulatedTenant, client: httpx.AsyncClient, member: str
) -> None:
    tenant.add_profile("p1", status={"id": "p1", "status": member})

    plain = (await client.get(status_path("p1"))).json()
    opted_in = (
        await client.get(
            status_path("p1"),
            headers={"Prefer": "odata.maxpagesize=10, Include-Unknown-Enum-Members"},
        )
    ).json()
    other_preference = (
        await client.get(status_path("p1"), headers={"Prefer": "return=minimal"})
    ).json()

    assert plain["status"] == "unknownFutureValue"
    assert opted_in["status"] == member
    assert other_preference["status"] == "unknownFutureValue"
    assert tenant.profiles["p1"]["status"]["status"] == member


async def test_older_members_are_sent_whatever_the_prefer_header(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1", status={"id": "p1", "status": "quarantined"})

    body = (await client.get(status_path("p1"))).json()

    assert body["status"] == "quarantined"


# -- faults ----------------------------------------------------------------------------------


async def test_throttling_fault_sends_retry_after_and_lapses_after_times(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")
    fault = tenant.add_fault(status_path("p1"), status=429, retry_after=2, times=1)

    throttled = await client.get(status_path("p1"), headers={"client-request-id": "abc-123"})
    recovered = await client.get(status_path("p1"))

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests"
    assert error["message"]
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert error["innerError"]["request-id"] == throttled.headers["request-id"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", error["innerError"]["date"])
    assert recovered.status_code == 200
    assert fault.hits == 1


async def test_fractional_retry_after_is_kept(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_fault(PROFILES, status=503, retry_after=0.5)

    response = await client.get(PROFILES)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "0.5"
    assert response.json()["error"]["code"] == "ServiceUnavailable"


async def test_forever_fault_with_custom_error_matches_the_whole_path_only(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    add_profiles(tenant, 2)
    fault = tenant.add_fault(
        rf"{PROFILES}/p\d",
        status=500,
        times=None,
        code="InternalError",
        message="Failed to fetch profiles",
    )

    failures = [await client.get(f"{PROFILES}/p{n}") for n in (1, 2, 1)]
    status = await client.get(status_path("p1"))  # longer path: no full match

    assert [r.status_code for r in failures] == [500, 500, 500]
    assert failures[0].json()["error"]["code"] == "InternalError"
    assert failures[0].json()["error"]["message"] == "Failed to fetch profiles"
    assert "Retry-After" not in failures[0].headers
    assert status.status_code == 200
    assert fault.hits == 3
    tenant.clear_faults()
    assert (await client.get(f"{PROFILES}/p1")).status_code == 200


async def test_default_500_code_and_method_specific_faults(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")
    post_fault = tenant.add_fault(status_path("p1"), method="POST")
    get_fault = tenant.add_fault(status_path("p1"))

    response = await client.get(status_path("p1"))

    assert response.json()["error"]["code"] == "InternalServerError"
    assert (post_fault.hits, get_fault.hits) == (0, 1)


async def test_delay_fault_provokes_client_timeouts_then_answers_normally(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")
    tenant.add_fault(status_path("p1"), status=200, delay=0.5, times=1)
    slow = tenant.add_fault(status_path("p1"), status=200, delay=0.2, times=1)

    with pytest.raises(httpx.ReadTimeout):
        await client.get(status_path("p1"), timeout=0.1)
    started = time.monotonic()
    delayed = await client.get(status_path("p1"))
    elapsed = time.monotonic() - started

    assert delayed.status_code == 200
    assert delayed.json()["id"] == "p1"
    assert elapsed >= 0.2
    assert slow.hits == 1


async def test_malformed_fault_sends_invalid_json(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")
    tenant.add_fault(status_path("p1"), malformed=True)

    response = await client.get(status_path("p1"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_invalid_faults_are_rejected() -> None:
    tenant = SimulatedTenant()

    with pytest.raises(ValueError, match="regex"):
        tenant.add_fault("(unclosed")
    with pytest.raises(ValueError, match="status"):
        tenant.add_fault(PROFILES, status=42)
    with pytest.raises(ValueError, match="delay"):
        tenant.add_fault(PROFILES, delay=-1)


async def test_stop_does_not_wait_for_a_long_delay(tenant: SimulatedTenant) -> None:
    tenant.add_fault(PROFILES, status=200, delay=30)
    async with httpx.AsyncClient(timeout=0.2, trust_env=False) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{tenant.url}{PROFILES}")

    started = time.monotonic()
    await tenant.stop()

    assert time.monotonic() - started < 2


async def test_latency_is_added_to_every_answer(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.latency = 0.2

    started = time.monotonic()
    response = await client.get(PROFILES)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


# -- refused sources and unknown paths -------------------------------------------------------


async def test_refused_source_answers_every_education_request_until_restored(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")
    tenant.refuse_source("education")

    refused = [await client.get(path) for path in (PROFILES, status_path("p1"))]
    tenant.restore_source("education")
    restored = await client.get(status_path("p1"))

    for response in refused:
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "BadRequest"
        assert error["message"] == "Resource not found for the segment 'synchronizationProfiles'."
    assert restored.status_code == 200
    with pytest.raises(ValueError, match="Unknown source"):
        tenant.refuse_source("mail")


async def test_unknown_paths_and_methods_get_graph_errors(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/beta/education/classes")
    wrong_method = await client.delete(PROFILES)

    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Resource not found for the segment 'classes'."
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "BadRequest"


# -- request log -----------------------------------------------------------------------------


async def test_graph_requests_are_recorded_in_order(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1")

    await client.get(PROFILES, params={"$top": "5"}, headers={"Authorization": "Bearer t0k"})
    await client.get(status_path("p1"), headers={"Prefer": "include-unknown-enum-members"})
    await client.get("/_tenant/health")

    recorded = tenant.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", PROFILES),
        ("GET", status_path("p1")),
    ]
    assert recorded[0].query == {"$top": "5"}
    assert recorded[0].headers["authorization"] == "Bearer t0k"
    assert "Authorization" in dict(recorded[0].headers)
    assert recorded[1].headers["Prefer"] == "include-unknown-enum-members"
    assert recorded[0].time <= recorded[1].time
    tenant.clear_requests()
    assert tenant.requests == []


# -- control API -----------------------------------------------------------------------------


async def test_control_api_manages_profiles(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    status = {"id": "p1", "status": "inProgress", "errorCount": 2**63 - 1}

    created = await client.post(
        "/_tenant/profiles",
        json={"id": "p1", "displayName": "Contoso", "state": "provisioned", "status": status},
    )
    patched = await client.patch(
        "/_tenant/profiles/p1/profileStatus", json={"status": "success", "errorCount": 1}
    )
    listed = await client.get("/_tenant/profiles")
    deleted = await client.delete("/_tenant/profiles/p1")
    deleted_again = await client.delete("/_tenant/profiles/p1")
    patched_missing = await client.patch("/_tenant/profiles/p1/profileStatus", json={})

    assert created.status_code == 201
    assert created.json()["status"] == status
    assert patched.status_code == 200
    assert patched.json() == {"id": "p1", "status": "success", "errorCount": 1}
    assert listed.json()["value"][0]["profile"]["displayName"] == "Contoso"
    assert listed.json()["value"][0]["status"]["status"] == "success"
    assert deleted.status_code == 204
    assert deleted_again.status_code == 404
    assert patched_missing.status_code == 404
    assert tenant.profiles == {}


async def test_control_api_patch_may_change_any_key(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile(id="p1")

    response = await client.patch(
        "/_tenant/profiles/p1/profileStatus", json={"id": "renamed", "profile_id": "x"}
    )

    assert response.status_code == 200
    assert tenant.profiles["p1"]["status"]["id"] == "renamed"
    assert tenant.profiles["p1"]["status"]["profile_id"] == "x"


@pytest.mark.parametrize(
    "body", [{"displayName": "no id"}, {"id": "p1", "status": "not an object"}, [1, 2]]
)
async def test_control_api_rejects_bad_profiles(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post("/_tenant/profiles", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


async def test_control_api_manages_faults(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/_tenant/faults",
        json={"path": PROFILES, "status": 429, "retryAfter": 3, "times": 2, "code": "Slow"},
    )
    throttled = [await client.get(PROFILES) for _ in range(3)]
    listed = (await client.get("/_tenant/faults")).json()["value"]
    bad_key = await client.post("/_tenant/faults", json={"path": PROFILES, "retry_after": 1})
    bad_regex = await client.post("/_tenant/faults", json={"path": "("})
    cleared = await client.delete("/_tenant/faults")

    assert created.status_code == 201
    assert listed[0]["id"] == created.json()["id"]
    assert [r.status_code for r in throttled] == [429, 429, 200]
    assert throttled[0].headers["Retry-After"] == "3"
    assert throttled[0].json()["error"]["code"] == "Slow"
    assert listed[0]["hits"] == 2
    assert bad_key.status_code == 400
    assert bad_regex.status_code == 400
    assert cleared.status_code == 204
    assert tenant.faults == []


async def test_control_api_refuses_and_restores_sources(client: httpx.AsyncClient) -> None:
    refused = await client.post(
        "/_tenant/sources/education/refuse", json={"status": 410, "code": "Gone"}
    )
    during = await client.get(PROFILES)
    restored = await client.delete("/_tenant/sources/education/refuse")
    after = await client.get(PROFILES)
    unknown = await client.post("/_tenant/sources/mail/refuse")
    bad_status = await client.post("/_tenant/sources/education/refuse", json={"status": "x"})

    assert bad_status.status_code == 400
    assert refused.status_code == 204
    assert during.status_code == 410
    assert during.json()["error"]["code"] == "Gone"
    assert restored.status_code == 204
    assert after.status_code == 200
    assert unknown.status_code == 404


async def test_control_api_reports_requests_and_health(client: httpx.AsyncClient) -> None:
    await client.get(PROFILES, headers={"Authorization": "Bearer abc"})

    health = await client.get("/_tenant/health")
    recorded = (await client.get("/_tenant/requests")).json()["value"]
    cleared = await client.delete("/_tenant/requests")
    after = (await client.get("/_tenant/requests")).json()["value"]
    unknown = await client.get("/_tenant/nothing-here")

    assert health.json() == {"status": "ok"}
    assert len(recorded) == 1
    assert recorded[0]["method"] == "GET"
    assert recorded[0]["path"] == PROFILES
    assert recorded[0]["query"] == {}
    assert recorded[0]["headers"]["Authorization"] == "Bearer abc"
    assert isinstance(recorded[0]["time"], float)
    assert cleared.status_code == 204
    assert after == []
    assert unknown.status_code == 404


# -- generated tenants -----------------------------------------------------------------------


def test_graph_timestamps_have_seven_fraction_digits() -> None:
    assert graph_timestamp(1_626_209_717_647_512_800) == "2021-07-13T20:55:17.6475128Z"
    assert graph_timestamp(0) == "1970-01-01T00:00:00.0000000Z"


def test_generated_profiles_are_deterministic_and_varied() -> None:
    first, second, other = SimulatedTenant(), SimulatedTenant(), SimulatedTenant()

    ids = populate_profiles(first, 50, seed=7)
    same = populate_profiles(second, 50, seed=7)
    different = populate_profiles(other, 50, seed=8)

    assert ids == same
    assert set(ids).isdisjoint(different)
    statuses = [entry["status"] for entry in first.profiles.values()]
    same_statuses = [entry["status"] for entry in second.profiles.values()]
    assert [s["status"] for s in statuses] == [s["status"] for s in same_statuses]
    assert [s["errorCount"] for s in statuses] == [s["errorCount"] for s in same_statuses]
    assert len({s["status"] for s in statuses}) >= 4
    for status in statuses:
        assert GRAPH_TIMESTAMP.fullmatch(status["lastActivityDateTime"])
        assert "\r\n" in status["statusMessage"]


def test_demo_tenant_has_every_interesting_status() -> None:
    tenant = SimulatedTenant()

    ids = populate_demo(tenant, random.Random(1))

    assert len(ids) == len(DEMO_SCHOOLS)
    entries = [tenant.profiles[profile_id] for profile_id in ids]
    assert entries[0]["profile"]["displayName"] == "Contoso High School \u2013 SIS roster"
    assert {entry["status"]["status"] for entry in entries} >= {
        "success",
        "inProgress",
        "extracting",
        "validating",
        "error",
        "quarantined",
        "paused",
    }
    for entry in entries:
        status = entry["status"]
        assert GRAPH_TIMESTAMP.fullmatch(status["lastSynchronizationDateTime"])
        assert "\r\n" in status["statusMessage"]


@pytest.mark.parametrize(
    ("current", "roll", "expected"),
    [
        ("extracting", 0.5, "validating"),
        ("validating", 0.5, "inProgress"),
        ("inProgress", 0.5, "success"),
        ("inProgress", 0.9, "inProgress"),
        ("success", 0.2, "inProgress"),
        ("success", 0.01, "error"),
        ("error", 0.3, "inProgress"),
        ("paused", 0.01, "paused"),
        ("quarantined", 0.5, "quarantined"),
    ],
)
def test_demo_status_cycle(current: str, roll: float, expected: str) -> None:
    assert next_demo_status(current, roll) == expected


def test_evolve_status_moves_timestamps_and_leaves_waiting_profiles_alone() -> None:
    rng = random.Random(3)
    now = 1_900_000_000_123_456_700
    running = {"status": "inProgress", "errorCount": 0}

    changes = [evolve_status(running, rng, now) for _ in range(30)]

    assert evolve_status({"status": "paused"}, rng, now) == {}
    assert evolve_status({"status": "unknownFutureValue"}, rng, now) == {}
    for change in changes:
        assert change["lastActivityDateTime"] == graph_timestamp(now)
        assert "\r\n" in change["statusMessage"]
    successes = [c for c in changes if c["status"] == "success"]
    assert successes
    assert all(c["lastSynchronizationDateTime"] == graph_timestamp(now) for c in successes)
    assert all(c["errorCount"] > 0 for c in changes if c["status"] == "error")


def test_demo_ticks_change_statuses_and_skip_removed_profiles() -> None:
    tenant = SimulatedTenant()
    rng = random.Random(5)
    ids = populate_demo(tenant, rng)
    before = {profile_id: tenant.profiles[profile_id]["status"] for profile_id in ids}
    tenant.remove_profile(ids[0])

    for _ in range(5):
        demo_tick(tenant, ids, rng)

    after = {profile_id: entry["status"] for profile_id, entry in tenant.profiles.items()}
    assert ids[0] not in after
    changed = [pid for pid in after if after[pid] != before[pid]]
    assert changed
    for profile_id in changed:
        assert (
            after[profile_id]["lastActivityDateTime"] > before[profile_id]["lastActivityDateTime"]
        )
    waiting = [pid for pid in after if before[pid]["status"] in {"paused", "quarantined"}]
    assert waiting
    assert all(after[pid] == before[pid] for pid in waiting)


# -- command line ----------------------------------------------------------------------------


def test_command_line_announces_url_and_stops_cleanly_on_sigterm() -> None:
    with graph_tenant_process("--port", "0", "--profiles", "3", "--demo") as process:
        line = process.stdout.readline() if process.stdout else ""
        match = re.fullmatch(r"GRAPH_TENANT_URL=(http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match[2]) > 0
        second = process.stdout.readline() if process.stdout else ""
        assert second == (
            f"PROVISIONING_SERVICE_PRINCIPAL_IDS={','.join(DEMO_JOB_SERVICE_PRINCIPAL_IDS)}\n"
        )
        with httpx.Client(base_url=match[1], timeout=5, trust_env=False) as http:
            assert http.get("/_tenant/health").json() == {"status": "ok"}
            listing = http.get(PROFILES, params={"$top": "999"}).json()
            jobs = http.get(jobs_path(DEMO_SERVICE_PRINCIPAL_IDS[1])).json()
            runs = http.get(RUNS).json()
        assert len(listing["value"]) == 3 + len(DEMO_SCHOOLS)
        assert [job["status"]["code"] for job in jobs["value"]] == ["Active", "Paused"]
        assert runs["value"][0]["status"] == "running"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert "listening on" in stderr


async def test_a_fault_can_let_the_first_matching_requests_through() -> None:
    async with SimulatedTenant(page_size=1) as tenant:
        tenant.add_profile("a")
        tenant.add_profile("b")
        fault = tenant.add_fault(r"/beta/education/synchronizationProfiles", status=500, skip=1)
        async with httpx.AsyncClient() as client:
            first = await client.get(f"{tenant.url}/beta/education/synchronizationProfiles")
            assert first.status_code == 200
            second = await client.get(first.json()["@odata.nextLink"])
            assert second.status_code == 500
            third = await client.get(first.json()["@odata.nextLink"])
            assert third.status_code == 200  # times=1: the fault has lapsed
        assert fault.hits == 1
        assert fault.to_json()["skip"] == 1


# -- provisioning jobs -----------------------------------------------------------------------


def assert_full_status(status: dict[str, Any]) -> None:
    """Every property of the synchronizationStatus page, with Graph-shaped timestamps."""
    assert set(status) == STATUS_PROPERTIES
    for name in ("lastExecution", "lastSuccessfulExecution", "lastSuccessfulExecutionWithExports"):
        execution = status[name]
        if execution is None:
            continue
        assert set(execution) == EXECUTION_PROPERTIES
        assert GRAPH_TIMESTAMP.fullmatch(execution["timeBegan"])
        assert GRAPH_TIMESTAMP.fullmatch(execution["timeEnded"])
        assert execution["timeBegan"] < execution["timeEnded"]
    for name in ("steadyStateFirstAchievedTime", "steadyStateLastAchievedTime"):
        assert status[name] is None or GRAPH_TIMESTAMP.fullmatch(status[name])
    for pair in status["synchronizedEntryCountByType"]:
        assert set(pair) == {"key", "value"}
        assert isinstance(pair["value"], int)


async def test_jobs_are_listed_paged_and_served_one_by_one(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_service_principal("sp-empty")
    first = tenant.add_job("sp1", template_id="AWS")
    second = tenant.add_job("sp1", "scim.abc.def", status=quarantined_job_status())
    third = tenant.add_job("sp1", "scim.ghi.jkl", status=job_status("Paused"))

    page_one = (await client.get(jobs_path("sp1"))).json()
    page_two = (await client.get(page_one["@odata.nextLink"])).json()
    single = (await client.get(f"{jobs_path('sp1')}/scim.abc.def")).json()
    empty = (await client.get(jobs_path("sp-empty"))).json()

    assert page_one["@odata.context"] == (
        f"{tenant.url}/v1.0/$metadata#servicePrincipals('sp1')/synchronization/jobs"
    )
    assert page_one["@odata.nextLink"].startswith(f"{tenant.url}{jobs_path('sp1')}?$skiptoken=")
    assert [job["id"] for job in page_one["value"] + page_two["value"]] == [first, second, third]
    assert "@odata.nextLink" not in page_two
    assert re.fullmatch(r"AWS\.[0-9a-f]{32}\.[0-9a-f]{32}", first)
    job = page_one["value"][0]
    assert set(job) == {"id", "templateId", "schedule", "status", "synchronizationJobSettings"}
    assert job["templateId"] == "AWS"
    assert job["schedule"] == {"expiration": None, "interval": "PT40M", "state": "Active"}
    assert all(set(s) == {"name", "value"} for s in job["synchronizationJobSettings"])
    assert job["status"]["code"] == "Active"
    assert_full_status(job["status"])
    assert single["@odata.context"] == (
        f"{tenant.url}/v1.0/$metadata#servicePrincipals('sp1')/synchronization/jobs/$entity"
    )
    assert single["status"]["code"] == "Quarantine"
    assert page_two["value"][0]["schedule"]["state"] == "Paused"
    assert empty["value"] == []


async def test_unknown_service_principals_and_jobs_get_graph_404s(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")

    missing_sp = await client.get(jobs_path("nope"), headers={"client-request-id": "c-1"})
    missing_job = await client.get(f"{jobs_path('sp1')}/job2")
    missing_sp_job = await client.get(f"{jobs_path('nope')}/job1")

    for response, object_id in ((missing_sp, "nope"), (missing_job, "job2")):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == "Request_ResourceNotFound"
        assert error["message"] == (
            f"Resource '{object_id}' does not exist or one of its queried "
            "reference-property objects are not present."
        )
    assert missing_sp.json()["error"]["innerError"]["client-request-id"] == "c-1"
    assert missing_sp_job.status_code == 404


async def test_job_status_is_verbatim_merged_and_removed(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    status = {"code": "SomeFutureCode", "countSuccessiveCompleteFailures": 2**63 - 1}
    tenant.add_job("sp1", "job1", status=status)
    status["code"] = "changed"  # the tenant keeps its own copy

    verbatim = await client.get(f"{jobs_path('sp1')}/job1")
    tenant.set_job_status("sp1", "job1", code="Quarantine", escrowsPruned=True)
    merged = tenant.get_job("sp1", "job1")["status"]
    snapshot = tenant.service_principals
    snapshot["sp1"]["job1"]["status"]["code"] = "tampered"
    tenant.remove_job("sp1", "job1")
    gone = await client.get(f"{jobs_path('sp1')}/job1")
    listing = (await client.get(jobs_path("sp1"))).json()
    tenant.remove_service_principal("sp1")

    assert "9223372036854775807" in verbatim.text
    assert verbatim.json()["status"]["code"] == "SomeFutureCode"
    assert merged == {
        "code": "Quarantine",
        "countSuccessiveCompleteFailures": 2**63 - 1,
        "escrowsPruned": True,
    }
    assert gone.status_code == 404
    assert listing["value"] == []
    assert tenant.service_principals == {}
    with pytest.raises(KeyError):
        tenant.set_job_status("sp1", "job1", code="Active")


def test_job_status_builders_have_every_property_and_their_trouble() -> None:
    healthy = healthy_job_status()
    quarantined = quarantined_job_status()
    on_demand = quarantined_job_status("QuarantinedOnDemand")
    failed = failed_job_status()
    escrows = entry_level_errors_job_status()

    for status in (healthy, quarantined, on_demand, failed, escrows):
        assert_full_status(status)
    assert healthy["code"] == "Active"
    assert healthy["lastExecution"]["state"] == "Succeeded"
    assert healthy["quarantine"] is None
    assert quarantined["code"] == "Quarantine"
    quarantine = quarantined["quarantine"]
    assert quarantine["reason"] == "EncounteredEscrowProportionThreshold"
    assert set(quarantine) == {
        "currentBegan",
        "nextAttempt",
        "reason",
        "seriesBegan",
        "seriesCount",
        "error",
    }
    assert set(quarantine["error"]) == {"code", "message", "tenantActionable"}
    assert quarantine["nextAttempt"] > quarantine["currentBegan"]
    assert quarantined["lastExecution"]["state"] == "EntryLevelErrors"
    assert on_demand["lastExecution"]["state"] == "Failed"
    assert failed["lastExecution"]["state"] == "Failed"
    assert failed["lastExecution"]["error"]["tenantActionable"] is True
    assert failed["countSuccessiveCompleteFailures"] > 0
    assert escrows["lastExecution"]["state"] == "EntryLevelErrors"
    assert escrows["lastExecution"]["countEscrowed"] > 0
    for code in ("Paused", "NotRun", "NotConfigured"):
        status = job_status(code)
        assert_full_status(status)
        assert status["code"] == code
    assert job_status("NotRun")["lastExecution"] is None
    assert job_status("Paused")["progress"][0]["completedUnits"] > 0


# -- Industry Data runs ----------------------------------------------------------------------


async def test_runs_are_listed_newest_first_and_paged(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_run("old", status="completed", start="2026-01-01T00:00:00Z")
    tenant.add_run(
        "newest", start="2026-01-03T00:00:00.1234567Z", display_name="Run 2026-01-03 00:00 UTC"
    )
    tenant.add_run(
        "middle",
        status="failed",
        start="2026-01-02T00:00:00.5Z",
        end="2026-01-02T01:00:00Z",
        blocking_error=blocking_error(),
    )

    first = (await client.get(RUNS)).json()
    second = (await client.get(first["@odata.nextLink"])).json()
    single = (await client.get(f"{RUNS}/middle")).json()
    missing = await client.get(f"{RUNS}/nope")

    assert first["@odata.context"] == f"{tenant.url}/beta/$metadata#external/industryData/runs"
    assert [run["id"] for run in first["value"] + second["value"]] == ["newest", "middle", "old"]
    assert "@odata.nextLink" not in second
    running = first["value"][0]
    assert running["displayName"] == "Run 2026-01-03 00:00 UTC"
    assert running["status"] == "running"
    assert running["endDateTime"] is None
    assert running["blockingError"] is None
    assert single["@odata.context"].endswith("#external/industryData/runs/$entity")
    assert single["blockingError"] == {
        "code": "SourceSystemUnreachable",
        "message": single["blockingError"]["message"],
        "target": None,
        "details": [],
        "innerError": None,
    }
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"


async def test_run_changes_reorder_the_listing(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    started = tenant.add_run(display_name="Now")
    tenant.add_run("older", start="2020-01-01T00:00:00.0000000Z")

    before = (await client.get(RUNS)).json()["value"]
    tenant.set_run("older", start="ignored", startDateTime="2999-01-01T00:00:00.0000000Z")
    after = (await client.get(RUNS)).json()["value"]
    tenant.remove_run("older")
    last = (await client.get(RUNS)).json()["value"]

    assert GRAPH_TIMESTAMP.fullmatch(before[0]["startDateTime"])
    assert [run["id"] for run in before] == [started, "older"]
    assert [run["id"] for run in after] == ["older", started]
    assert [run["id"] for run in last] == [started]
    assert tenant.newest_run_id() == started


async def test_get_statistics_answers_stored_or_zero_statistics(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_run("done", status="completedWithErrors", statistics=run_statistics(errors=7))
    tenant.add_run("running")

    done = (await client.get(f"{RUNS}/done/getStatistics")).json()
    running = (await client.get(f"{RUNS}/running/getStatistics")).json()
    tenant.set_run_statistics("running", run_statistics(warnings=2, run_id="running"))
    counted = (await client.get(f"{RUNS}/running/getStatistics")).json()
    missing = await client.get(f"{RUNS}/nope/getStatistics")

    context = f"{tenant.url}/beta/$metadata#microsoft.graph.industryData.industryDataRunStatistics"
    assert done["@odata.context"] == context
    assert done["runId"] == "done"  # filled in: the builder was given no run id
    assert done["status"] == "completedWithErrors"
    totals = done["inboundTotals"]
    assert totals["errors"] == 7
    assert totals["warnings"] == 0
    assert isinstance(totals["people"], int) and totals["people"] > 0
    assert {m["role"] for m in totals["matchedPeopleByRole"]} >= {"student", "teacher"}
    activity = done["activityStatistics"][0]
    assert activity["@odata.type"] == "#microsoft.graph.industryData.inboundActivityResults"
    assert activity["errors"] == 7
    assert activity["status"] == "completedWithErrors"
    assert set(activity["people"]) == {"active", "inactive", "total"}
    assert running == {
        "@odata.context": context,
        "runId": "running",
        "status": "running",
        "activityStatistics": [],
        "inboundTotals": {
            "errors": 0,
            "warnings": 0,
            "groups": 0,
            "matchedPeopleByRole": [],
            "memberships": 0,
            "organizations": 0,
            "people": 0,
            "unmatchedPeopleByRole": [],
        },
    }
    assert counted["status"] == "completedWithWarnings"
    assert counted["inboundTotals"]["warnings"] == 2
    assert missing.status_code == 404


async def test_get_statistics_answers_in_the_odata_function_form_too(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_run("done", status="completedWithErrors", statistics=run_statistics(errors=7))
    function = "microsoft.graph.industryData.getStatistics()"  # what Microsoft's SDKs call

    short = await client.get(f"{RUNS}/done/getStatistics")
    long = await client.get(f"{RUNS}/done/{function}")
    missing = await client.get(f"{RUNS}/nope/{function}")

    assert long.status_code == 200
    assert long.json() == short.json()
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("source", "path", "segment"),
    [
        ("synchronization", jobs_path("sp1"), "synchronization"),
        ("industryData", RUNS, "industryData"),
    ],
)
async def test_new_sources_can_be_refused(
    tenant: SimulatedTenant, client: httpx.AsyncClient, source: str, path: str, segment: str
) -> None:
    tenant.add_job("sp1", "job1")
    tenant.add_run("r1")
    tenant.add_profile("p1")
    tenant.refuse_source(source)

    refused = await client.get(path)
    profile = await client.get(status_path("p1"))
    tenant.restore_source(source)
    restored = await client.get(path)

    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == f"Resource not found for the segment '{segment}'."
    assert profile.status_code == 200
    assert restored.status_code == 200


# -- JSON batching ---------------------------------------------------------------------------


async def post_batch(client: httpx.AsyncClient, requests: Any, version: str = "v1.0") -> Any:
    return await client.post(f"/{version}/$batch", json={"requests": requests})


async def test_batch_answers_mixed_sub_requests_in_order(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")
    tenant.add_profile("p1")
    tenant.latency = 0.2

    started = time.monotonic()
    response = await post_batch(
        client,
        [
            {"id": "jobs", "method": "GET", "url": "/servicePrincipals/sp1/synchronization/jobs"},
            {
                "id": "missing",
                "method": "GET",
                "url": "servicePrincipals/nope/synchronization/jobs",
            },
            {
                "id": "top",
                "method": "GET",
                "url": "/servicePrincipals/sp1/synchronization/jobs?$top=0",
            },
            {"id": "wrong-api", "method": "GET", "url": "/education/synchronizationProfiles"},
        ],
    )
    elapsed = time.monotonic() - started
    beta = await post_batch(
        client,
        [{"id": "1", "method": "GET", "url": "/education/synchronizationProfiles/p1"}],
        "beta",
    )

    assert response.status_code == 200
    assert 0.2 <= elapsed < 0.6  # latency once per $batch, not per sub-request
    answers = response.json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [
        ("jobs", 200),
        ("missing", 404),
        ("top", 400),
        ("wrong-api", 404),  # v1.0 has no education profiles here
    ]
    assert answers[0]["body"]["value"][0]["id"] == "job1"
    assert answers[0]["body"]["@odata.context"].startswith(f"{tenant.url}/v1.0/$metadata#")
    assert answers[0]["headers"]["Content-Type"].startswith("application/json")
    assert answers[1]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert beta.json()["responses"][0]["body"]["id"] == "p1"
    recorded = [(r.method, r.path, r.batched) for r in tenant.requests]
    assert recorded[:3] == [
        ("POST", "/v1.0/$batch", False),
        ("GET", jobs_path("sp1"), True),
        ("GET", jobs_path("nope"), True),
    ]
    assert tenant.requests[3].query == {"$top": "0"}
    assert tenant.requests[1].to_json()["batched"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"requests": [{"id": str(n), "method": "GET", "url": "/x"} for n in range(21)]}, "20"),
        ({"requests": [{"id": "1", "method": "GET", "url": "/x"}] * 2}, "'1'"),
        ({"requests": [{"id": "1", "url": "/x"}]}, "'method'"),
        ({"requests": [{"id": "1", "method": "GET"}]}, "'url'"),
        ({"requests": [{"method": "GET", "url": "/x"}]}, "'id'"),
        (
            {"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/x"}]},
            "relative",
        ),
        ({"requests": []}, "requests"),
        ({"value": []}, "requests"),
    ],
)
async def test_invalid_batches_are_bad_requests(
    tenant: SimulatedTenant, client: httpx.AsyncClient, body: Any, message: str
) -> None:
    response = await client.post("/v1.0/$batch", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert message in error["message"]
    assert tenant.subrequest_count == 0


async def test_twenty_requests_are_accepted_and_get_is_not(client: httpx.AsyncClient) -> None:
    twenty = [
        {"id": str(n), "method": "GET", "url": f"/servicePrincipals/s{n}/synchronization/jobs"}
        for n in range(20)
    ]

    response = await post_batch(client, twenty)
    wrong_method = await client.get("/v1.0/$batch")
    not_json = await client.post("/v1.0/$batch", content=b"{")

    assert response.status_code == 200
    assert len(response.json()["responses"]) == 20
    assert wrong_method.status_code == 405
    assert not_json.status_code == 400


async def test_a_fault_answers_one_sub_request_only(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")
    tenant.add_job("sp2", "job2")
    tenant.add_fault(jobs_path("sp2"), status=503, retry_after=4)
    tenant.add_fault(f"{jobs_path('sp1')}/job1", malformed=True)

    answers = (
        await post_batch(
            client,
            [
                {"id": "a", "method": "GET", "url": "/servicePrincipals/sp1/synchronization/jobs"},
                {"id": "b", "method": "GET", "url": "/servicePrincipals/sp2/synchronization/jobs"},
                {
                    "id": "c",
                    "method": "GET",
                    "url": "/servicePrincipals/sp1/synchronization/jobs/job1",
                },
            ],
        )
    ).json()["responses"]

    assert [a["status"] for a in answers] == [200, 503, 200]
    assert answers[1]["headers"]["Retry-After"] == "4"
    assert answers[1]["body"]["error"]["code"] == "ServiceUnavailable"
    assert isinstance(answers[2]["body"], str)  # not JSON: embedded as text
    with pytest.raises(json.JSONDecodeError):
        json.loads(answers[2]["body"])


async def test_a_fault_can_fail_the_whole_batch(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    fault = tenant.add_fault(r"/v1\.0/\$batch", method="POST", status=503, retry_after=2)
    request = [{"id": "1", "method": "GET", "url": "/servicePrincipals/sp/synchronization/jobs"}]

    failed = await post_batch(client, request)
    recovered = await post_batch(client, request)

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "2"
    assert failed.json()["error"]["code"] == "ServiceUnavailable"
    assert recovered.status_code == 200
    assert fault.hits == 1
    assert tenant.subrequest_count == 1


async def test_prefer_header_applies_per_sub_request(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("p1", status={"id": "p1", "status": "extracting"})
    url = "/education/synchronizationProfiles/p1/profileStatus"

    response = await client.post(
        "/beta/$batch",
        headers={"Prefer": "include-unknown-enum-members"},  # the envelope's: not inherited
        json={
            "requests": [
                {"id": "plain", "method": "GET", "url": url},
                {
                    "id": "opted-in",
                    "method": "GET",
                    "url": url,
                    "headers": {"Prefer": "include-unknown-enum-members"},
                },
            ]
        },
    )

    statuses = {a["id"]: a["body"]["status"] for a in response.json()["responses"]}
    assert statuses == {"plain": "unknownFutureValue", "opted-in": "extracting"}


async def test_refusals_apply_to_sub_requests_and_batches_do_not_nest(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_run("r1")
    tenant.refuse_source("industryData", status=410, code="Gone")

    answers = (
        await post_batch(
            client,
            [
                {"id": "1", "method": "GET", "url": "/external/industryData/runs"},
                {"id": "2", "method": "POST", "url": "/$batch", "body": {"requests": []}},
            ],
            "beta",
        )
    ).json()["responses"]

    assert [a["status"] for a in answers] == [410, 400]
    assert answers[0]["body"]["error"]["code"] == "Gone"


# -- throttling ------------------------------------------------------------------------------


async def test_a_burst_beyond_the_rate_limit_is_throttled() -> None:
    async with SimulatedTenant(rate_limit=5) as tenant:
        tenant.add_job("sp1", "job1")
        async with httpx.AsyncClient(base_url=tenant.url, trust_env=False) as client:
            responses = [await client.get(jobs_path("sp1")) for _ in range(20)]
            await client.get("/_tenant/health")  # control calls are not Graph requests

        throttled = [r for r in responses if r.status_code == 429]
        # A burst of 5, then one more per 0.2 s: a slow machine may earn a few refills.
        assert 10 <= len(throttled) <= 20 - 5
        assert all(r.status_code == 200 for r in responses[:5])
        for response in throttled:
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["error"]["code"] == "TooManyRequests"
        assert tenant.request_count == 20
        assert tenant.subrequest_count == 0
        assert tenant.throttled_count == len(throttled)
        tenant.reset_counters()
        assert (tenant.request_count, tenant.throttled_count) == (0, 0)


async def test_retry_after_covers_the_wait_for_the_next_token() -> None:
    async with (
        SimulatedTenant(rate_limit=0.2, throttle_retry_after=2) as tenant,
        httpx.AsyncClient(base_url=tenant.url, trust_env=False) as client,
    ):
        first = await client.get(RUNS)
        second = await client.get(RUNS)
        tenant.throttle_retry_after = 9
        third = await client.get(RUNS)
        tenant.rate_limit = None
        unlimited = [await client.get(RUNS) for _ in range(10)]

    assert first.status_code == 200
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) in (4, 5)  # 1 token per 5 s
    assert third.headers["Retry-After"] == "9"
    assert {r.status_code for r in unlimited} == {200}
    with pytest.raises(ValueError, match="rate_limit"):
        tenant.rate_limit = -1
    with pytest.raises(ValueError, match="throttle_retry_after"):
        tenant.throttle_retry_after = 0


async def test_batched_sub_requests_are_throttled_one_by_one() -> None:
    async with SimulatedTenant(rate_limit=3, throttle_retry_after=2) as tenant:
        tenant.add_job("sp1", "job1")
        async with httpx.AsyncClient(base_url=tenant.url, trust_env=False) as client:
            url = "/servicePrincipals/sp1/synchronization/jobs"
            response = await post_batch(
                client, [{"id": str(n), "method": "GET", "url": url} for n in range(5)]
            )
            top_level = await client.get(jobs_path("sp1"))

        assert response.status_code == 200  # the envelope itself is not counted
        answers = response.json()["responses"]
        assert [a["status"] for a in answers] == [200, 200, 200, 429, 429]
        for answer in answers[3:]:
            assert answer["headers"]["Retry-After"] == "2"
            assert answer["body"]["error"]["code"] == "TooManyRequests"
        assert top_level.status_code == 429
        assert tenant.request_count == 2
        assert tenant.subrequest_count == 5
        assert tenant.throttled_count == 3
        assert len(tenant.requests) == 7


async def test_rate_limit_zero_throttles_everything(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.rate_limit = 0
    tenant.throttle_retry_after = 3

    response = await client.get(RUNS)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


# -- control API for jobs, runs, throttling --------------------------------------------------


async def test_control_api_manages_jobs(tenant: SimulatedTenant, client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/_tenant/servicePrincipals/sp1/jobs/job1",
        json={"templateId": "Workday", "status": {"code": "Active", "countEscrowed": 1}},
    )
    replaced = await client.put("/_tenant/servicePrincipals/sp1/jobs/job1", json={})
    patched = await client.patch(
        "/_tenant/servicePrincipals/sp1/jobs/job1", json={"code": "Quarantine"}
    )
    served = (await client.get(f"{jobs_path('sp1')}/job1")).json()
    listed = (await client.get("/_tenant/servicePrincipals")).json()["value"]
    bad = await client.put("/_tenant/servicePrincipals/sp1/jobs/job2", json={"status": 3})
    unknown_key = await client.put("/_tenant/servicePrincipals/sp1/jobs/job2", json={"x": 1})
    patched_missing = await client.patch("/_tenant/servicePrincipals/sp9/jobs/job1", json={})
    added_sp = await client.put("/_tenant/servicePrincipals/sp2")
    deleted = await client.delete("/_tenant/servicePrincipals/sp1/jobs/job1")
    deleted_again = await client.delete("/_tenant/servicePrincipals/sp1/jobs/job1")
    deleted_sp = await client.delete("/_tenant/servicePrincipals/sp1")
    deleted_sp_again = await client.delete("/_tenant/servicePrincipals/sp1")

    assert created.status_code == 201
    assert created.json()["templateId"] == "Workday"
    assert created.json()["status"] == {"code": "Active", "countEscrowed": 1}
    assert replaced.status_code == 200
    assert replaced.json()["templateId"] == "scim"
    assert replaced.json()["status"]["code"] == "Active"
    assert patched.status_code == 200
    assert patched.json()["status"]["code"] == "Quarantine"
    assert patched.json()["status"]["lastExecution"] == replaced.json()["status"]["lastExecution"]
    assert served["status"]["code"] == "Quarantine"
    assert re.fullmatch(r"[0-9a-f-]{36}", listed[0]["appId"])
    assert listed == [
        {
            "id": "sp1",
            "appId": listed[0]["appId"],
            "displayName": "Enterprise app sp1",
            "servicePrincipalType": "Application",
            "refuseJobs": None,
            "jobs": [patched.json()],
        }
    ]
    assert bad.status_code == 400
    assert unknown_key.status_code == 400
    assert patched_missing.status_code == 404
    assert added_sp.status_code == 201
    assert added_sp.json()["displayName"] == "Enterprise app sp2"
    assert added_sp.json()["jobs"] == []
    assert deleted.status_code == 204
    assert deleted_again.status_code == 404
    assert deleted_sp.status_code == 204
    assert deleted_sp_again.status_code == 404
    assert tenant.service_principals == {"sp2": {}}


async def test_control_api_manages_runs(tenant: SimulatedTenant, client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/_tenant/runs/r1",
        json={"displayName": "Nightly", "startDateTime": "2026-01-01T00:00:00.0000000Z"},
    )
    patched = await client.patch(
        "/_tenant/runs/r1",
        json={
            "status": "completedWithErrors",
            "endDateTime": "2026-01-01T01:00:00.0000000Z",
            "statistics": run_statistics(errors=3, run_id="r1"),
        },
    )
    served = (await client.get(f"{RUNS}/r1")).json()
    statistics = (await client.get(f"{RUNS}/r1/getStatistics")).json()
    cleared = await client.patch("/_tenant/runs/r1", json={"statistics": None})
    listed = (await client.get("/_tenant/runs")).json()["value"]
    bad = await client.put("/_tenant/runs/r2", json={"statistics": "x"})
    unknown_key = await client.put("/_tenant/runs/r2", json={"state": "running"})
    patched_missing = await client.patch("/_tenant/runs/r9", json={"status": "failed"})
    deleted = await client.delete("/_tenant/runs/r1")
    deleted_again = await client.delete("/_tenant/runs/r1")

    assert created.status_code == 201
    assert created.json()["run"]["status"] == "running"
    assert created.json()["run"]["endDateTime"] is None
    assert created.json()["statistics"] is None
    assert patched.status_code == 200
    assert served["status"] == "completedWithErrors"
    assert served["endDateTime"] == "2026-01-01T01:00:00.0000000Z"
    assert served["displayName"] == "Nightly"
    assert statistics["inboundTotals"]["errors"] == 3
    assert cleared.json()["statistics"] is None
    assert listed[0]["run"]["id"] == "r1"
    assert bad.status_code == 400
    assert unknown_key.status_code == 400
    assert patched_missing.status_code == 404
    assert deleted.status_code == 204
    assert deleted_again.status_code == 404
    assert tenant.runs == {}


async def test_control_api_sets_the_rate_limit_and_reports_counters(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    limited = await client.put("/_tenant/rateLimit", json={"rateLimit": 2, "retryAfter": 7})
    answers = [await client.get(RUNS) for _ in range(4)]
    await post_batch(client, [{"id": "1", "method": "GET", "url": "/external/industryData/runs"}])
    counters = (await client.get("/_tenant/counters")).json()
    bad_rate = await client.put("/_tenant/rateLimit", json={"rateLimit": "fast"})
    bad_retry = await client.put("/_tenant/rateLimit", json={"rateLimit": 1, "retryAfter": 0})
    missing = await client.put("/_tenant/rateLimit", json={"retryAfter": 3})
    unlimited = await client.put("/_tenant/rateLimit", json={"rateLimit": None})
    current = (await client.get("/_tenant/rateLimit")).json()
    reset = await client.delete("/_tenant/counters")
    after = (await client.get("/_tenant/counters")).json()

    assert limited.json() == {"rateLimit": 2, "retryAfter": 7}
    assert [a.status_code for a in answers[:2]] == [200, 200]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled
    assert {a.headers["Retry-After"] for a in throttled} == {"7"}
    assert counters["requestCount"] == 5
    assert counters["subrequestCount"] == 1
    assert counters["throttledCount"] == sum(a.status_code == 429 for a in answers) + 1
    assert bad_rate.status_code == 400
    assert bad_retry.status_code == 400
    assert missing.status_code == 400
    assert tenant.throttle_retry_after == 7  # a rejected update changes nothing
    assert unlimited.json() == {"rateLimit": None, "retryAfter": 7}
    assert current == {"rateLimit": None, "retryAfter": 7}
    assert reset.status_code == 204
    assert after == {"requestCount": 0, "subrequestCount": 0, "throttledCount": 0}


# -- generated jobs and runs, demo -----------------------------------------------------------


def test_generated_jobs_and_runs_are_deterministic_and_varied() -> None:
    first, second = SimulatedTenant(), SimulatedTenant()

    sp_ids = populate_jobs(first, 25, seed=3)
    same_sp_ids = populate_jobs(second, 25, seed=3)
    run_ids = populate_runs(first, 12, seed=3)
    same_run_ids = populate_runs(second, 12, seed=3)

    assert sp_ids == same_sp_ids
    assert len(sp_ids) == 3  # 10 jobs to a service principal
    principals = first.service_principals
    assert [len(principals[sp_id]) for sp_id in sp_ids] == [10, 10, 5]
    assert list(principals[sp_ids[0]]) == list(second.service_principals[sp_ids[0]])
    codes = [job["status"]["code"] for jobs in principals.values() for job in jobs.values()]
    assert len(set(codes)) >= 2
    for jobs in principals.values():
        for job in jobs.values():
            assert_full_status(job["status"])
    assert run_ids == same_run_ids
    runs = first.runs
    assert first.newest_run_id() == run_ids[0]
    starts = [runs[run_id]["run"]["startDateTime"] for run_id in run_ids]
    assert starts == sorted(starts, reverse=True)
    for entry in runs.values():
        run = entry["run"]
        assert GRAPH_TIMESTAMP.fullmatch(run["endDateTime"])
        assert (run["status"] == "failed") == (run["blockingError"] is not None)
        assert (run["status"] == "failed") == (entry["statistics"] is None)
    assert populate_jobs(SimulatedTenant(), 0, seed=3) == []


def test_demo_adds_service_principals_with_every_kind_of_job_and_runs() -> None:
    tenant = SimulatedTenant()

    populate_demo(tenant, random.Random(1))

    assert len(DEMO_SERVICE_PRINCIPAL_IDS) == 2
    assert DEMO_JOB_SERVICE_PRINCIPAL_IDS[:2] == DEMO_SERVICE_PRINCIPAL_IDS
    assert all(re.fullmatch(r"[0-9a-f-]{36}", sp_id) for sp_id in DEMO_JOB_SERVICE_PRINCIPAL_IDS)
    principals = tenant.service_principals
    with_jobs = [sp_id for sp_id, jobs in principals.items() if jobs]
    assert with_jobs == list(DEMO_JOB_SERVICE_PRINCIPAL_IDS)
    first_two = [principals[sp_id] for sp_id in DEMO_SERVICE_PRINCIPAL_IDS]
    statuses = [job["status"] for jobs in first_two for job in jobs.values()]
    assert [status["code"] for status in statuses] == ["Active", "Quarantine", "Active", "Paused"]
    assert statuses[1]["quarantine"]["reason"] == "EncounteredEscrowProportionThreshold"
    assert statuses[2]["lastExecution"]["state"] == "EntryLevelErrors"
    assert statuses[2]["lastExecution"]["countEscrowed"] > 0
    runs = tenant.runs
    newest = runs[tenant.newest_run_id() or ""]
    assert newest["run"]["status"] == "running"
    assert newest["run"]["endDateTime"] is None
    finished = {entry["run"]["status"]: entry for entry in runs.values()}
    assert set(finished) == {"running", "completed", "completedWithWarnings", "failed"}
    assert finished["completedWithWarnings"]["statistics"]["inboundTotals"]["warnings"] > 0
    assert finished["failed"]["run"]["blockingError"]["code"]
    again = SimulatedTenant()
    populate_demo(again, random.Random(2))
    assert list(again.service_principals) == list(principals)
    assert again.service_principal_attributes == tenant.service_principal_attributes
    assert list(again.runs) == list(runs)


async def test_demo_ticks_finish_the_running_run_with_errors_then_start_another(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    rng = random.Random(4)
    ids = populate_demo(tenant, rng)
    running_id = tenant.newest_run_id() or ""

    demo_tick(tenant, ids, rng)
    partial = (await client.get(f"{RUNS}/{running_id}/getStatistics")).json()
    still_running = (await client.get(f"{RUNS}/{running_id}")).json()
    demo_tick(tenant, ids, rng)
    finished = (await client.get(f"{RUNS}/{running_id}")).json()
    statistics = (await client.get(f"{RUNS}/{running_id}/getStatistics")).json()
    for _ in range(20):
        demo_tick(tenant, ids, rng)
        if tenant.newest_run_id() != running_id:
            break
    listing = (await client.get(RUNS, params={"$top": "999"})).json()["value"]

    assert partial["status"] == "running"
    assert still_running["status"] == "running"
    assert still_running["endDateTime"] is None
    assert finished["status"] == "completedWithErrors"
    assert GRAPH_TIMESTAMP.fullmatch(finished["endDateTime"])
    assert statistics["status"] == "completedWithErrors"
    assert statistics["inboundTotals"]["errors"] > 0
    assert listing[0]["id"] != running_id
    assert listing[0]["status"] == "running"
    assert listing[1]["id"] == running_id


def test_command_line_generates_jobs_and_runs() -> None:
    with graph_tenant_process("--port", "0", "--jobs", "12", "--runs", "3") as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip().partition("=")[2]
        name, _, value = process.stdout.readline().strip().partition("=")
        assert name == "PROVISIONING_SERVICE_PRINCIPAL_IDS"
        sp_ids = value.split(",")
        assert len(sp_ids) == 2
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as http:
            jobs = [len(http.get(jobs_path(sp_id)).json()["value"]) for sp_id in sp_ids]
            runs = http.get(RUNS).json()["value"]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert jobs == [10, 2]
    assert len(runs) == 3


def test_command_line_without_jobs_prints_only_the_url() -> None:
    with graph_tenant_process("--port", "0", "--profiles", "1", text=False) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        rest, stderr = process.communicate(timeout=10)

    assert first.startswith(b"GRAPH_TENANT_URL=")
    assert rest == b"", stderr


async def test_the_server_caps_the_page_whatever_top_asks() -> None:
    async with SimulatedTenant() as running:
        for index in range(5):
            running.add_profile(f"p{index}")
        running.max_page_size = 2
        async with httpx.AsyncClient(base_url=running.url) as client:
            first = (await client.get(PROFILES, params={"$top": "999"})).json()
            assert [p["id"] for p in first["value"]] == ["p0", "p1"]
            second = (await client.get(first["@odata.nextLink"])).json()
            assert [p["id"] for p in second["value"]] == ["p2", "p3"]
