"""Tests of the simulated Graph tenant, over real HTTP against an in-process instance.

The app's integration and end-to-end tests trust this tenant to behave like Graph, so these
tests pin the Graph behaviours it mirrors (paging, the evolvable-enum rule, error bodies) and
the steering interfaces (Python API, control API, command line).
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.graph_tenant import (
    DEMO_SCHOOLS,
    SimulatedTenant,
    decode_skiptoken,
    demo_tick,
    evolve_status,
    graph_timestamp,
    next_demo_status,
    populate_demo,
    populate_profiles,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PROFILES = "/beta/education/synchronizationProfiles"
GRAPH_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")


def status_path(profile_id: str) -> str:
    return f"{PROFILES}/{profile_id}/profileStatus"


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant(page_size=2) as running:
        yield running


@pytest.fixture
async def client(tenant: SimulatedTenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tenant.url, timeout=5, trust_env=False) as http:
        yield http


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
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--profiles", "3", "--demo"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.fullmatch(r"GRAPH_TENANT_URL=(http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match[2]) > 0
        with httpx.Client(base_url=match[1], timeout=5, trust_env=False) as http:
            assert http.get("/_tenant/health").json() == {"status": "ok"}
            listing = http.get(PROFILES, params={"$top": "999"}).json()
        assert len(listing["value"]) == 3 + len(DEMO_SCHOOLS)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

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
