"""The poll against the simulated Graph tenant (real HTTP) and Azurite: every rule of the poll (shared/polling)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared import composition
from tests.support.app import App
from tests.support.azurite import azurite_proxy
from tests.support.samples import SEED, SEED_ID

STATUS_PATH = "/beta/education/synchronizationProfiles/{}/profileStatus"
LIST_PATH = "/beta/education/synchronizationProfiles"


def without_context(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "@odata.context"}


async def source_health(app: App) -> dict[str, Any]:
    reply = await app.health()
    assert "sources" in reply.json(), reply.body
    (source,) = reply.json()["sources"]
    return {"http": reply.status, **source}


async def test_the_seed_example_round_trips_value_for_value(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, display_name="Contoso", state="provisioned", status=dict(SEED))
    await app.poll()
    reply = await app.get_status(SEED_ID)
    assert reply.status == 200
    body = reply.json()
    assert without_context(body) == SEED
    assert list(without_context(body)) == list(SEED)
    assert body["@odata.context"].endswith(
        f"/beta/$metadata#education/synchronizationProfiles('{SEED_ID}')/profileStatus/$entity"
    )
    assert b'"statusMessage": "Processed 0 in the last hour.\\r\\nUpdated' in reply.body
    assert b'"lastActivityDateTime": "2021-07-13T20:55:17.6475128Z"' in reply.body


async def test_extreme_values_survive_the_whole_trip(app: App, tenant: Any) -> None:
    status = {
        **SEED,
        "errorCount": 2**63 - 1,
        "statusMessage": "Zeile 1\r\nÉcole – 学校 🙂\u2028end",
        "status": "reticulatingSplines",  # a member Graph may add after this code was written
        "lastSynchronizationDateTime": None,
    }
    tenant.add_profile(SEED_ID, status=status)
    await app.poll()
    reply = await app.get_status(SEED_ID)
    assert without_context(reply.json()) == status
    assert b"9223372036854775807" in reply.body


async def test_extracting_and_validating_survive_because_prefer_is_sent(
    app: App, tenant: Any
) -> None:
    tenant.add_profile(
        "p-extracting", status={**SEED, "id": "p-extracting", "status": "extracting"}
    )
    tenant.add_profile(
        "p-validating", status={**SEED, "id": "p-validating", "status": "validating"}
    )
    await app.poll()
    assert (await app.get_status("p-extracting")).json()["status"] == "extracting"
    assert (await app.get_status("p-validating")).json()["status"] == "validating"
    status_requests = [r for r in tenant.requests if r.path.endswith("/profileStatus")]
    assert len(status_requests) == 2
    for request in status_requests:
        prefer = {k.lower(): v for k, v in request.headers.items()}["prefer"]
        assert "include-unknown-enum-members" in prefer


async def test_a_patch_survives_a_poll_when_graph_did_not_change(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    patched = await app.patch_status(SEED_ID, {"status": "paused", "statusMessage": "held"})
    assert patched.status == 200
    await app.poll()
    body = (await app.get_status(SEED_ID)).json()
    assert body["status"] == "paused"
    assert body["statusMessage"] == "held"


async def test_a_patch_is_overwritten_when_graph_changed(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    await app.patch_status(SEED_ID, {"status": "paused"})
    tenant.set_status(SEED_ID, status="error", errorCount=4)
    await app.poll()
    body = (await app.get_status(SEED_ID)).json()
    assert body["status"] == "error"
    assert body["errorCount"] == 4


async def test_a_poll_that_finds_nothing_new_writes_nothing(app: App, tenant: Any) -> None:
    for index in range(5):
        tenant.add_profile(f"p{index}")
    await app.poll()
    etags = [(await app.get_status(f"p{index}")).headers["ETag"] for index in range(5)]
    await app.poll()
    assert [(await app.get_status(f"p{index}")).headers["ETag"] for index in range(5)] == etags
    counts = (await source_health(app))["lastPoll"]["counts"]
    assert counts == {"listed": 5, "unchanged": 5, "written": 0, "removed": 0, "failed": 0}


async def test_a_429_then_success_lands(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    fault = tenant.add_fault(STATUS_PATH.format(SEED_ID), status=429, retry_after=1, times=1)
    await app.poll()
    assert fault.hits == 1
    assert (await app.get_status(SEED_ID)).json()["status"] == "inProgress"
    attempts = [r for r in tenant.requests if r.path == STATUS_PATH.format(SEED_ID)]
    assert len(attempts) == 2
    assert attempts[1].time - attempts[0].time >= 0.9  # waited as Retry-After said
    health = await source_health(app)
    assert health["status"] == "healthy"
    assert health["http"] == 200


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"status": 500}, "InternalServerError"),
        ({"status": 200, "malformed": True}, "invalidJson"),
        ({"status": 200, "delay": 3.0}, "timeout"),  # GRAPH_TIMEOUT_SECONDS is 2 in tests
    ],
)
async def test_a_failing_profile_keeps_its_last_value_and_shows_in_health(
    app: App, tenant: Any, fault: dict[str, Any], code: str
) -> None:
    tenant.add_profile("good")
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    tenant.set_status(SEED_ID, status="error")
    tenant.set_status("good", status="paused")
    tenant.add_fault(STATUS_PATH.format(SEED_ID), times=None, **fault)
    await app.poll()
    assert without_context((await app.get_status(SEED_ID)).json()) == SEED  # last good value
    assert (await app.get_status("good")).json()["status"] == "paused"  # the others go on
    health = await source_health(app)
    assert health["http"] == 503
    assert health["status"] == "degraded"
    assert health["lastPoll"]["outcome"] == "partial"
    assert health["lastPoll"]["errors"] == [{"code": code, "count": 1}]
    assert health["lastPoll"]["counts"]["failed"] == 1


async def test_a_failing_second_page_removes_nothing(app: App, tenant: Any) -> None:
    tenant.max_page_size = 2  # the app asks for 999; the tenant serves 2 a page
    for index in range(5):
        tenant.add_profile(f"p{index}")
    await app.poll()
    tenant.remove_profile("p0")  # gone from Graph, but the listing will not get that far
    tenant.add_fault(LIST_PATH, status=500, times=None, skip=1)  # page 1 answers, page 2 fails
    await app.poll()
    for index in range(5):
        assert (await app.get_status(f"p{index}")).status == 200
    health = await source_health(app)
    assert health["lastPoll"]["outcome"] == "partial"
    assert health["lastPoll"]["sourceError"]["status"] == 500


async def test_a_complete_listing_removes_profiles_graph_no_longer_has(
    app: App, tenant: Any
) -> None:
    tenant.add_profile("stays")
    tenant.add_profile("goes")
    await app.poll()
    tenant.remove_profile("goes")
    await app.poll()
    assert (await app.get_status("goes")).status == 404
    assert (await app.get_status("stays")).status == 200
    assert (await source_health(app))["lastPoll"]["counts"]["removed"] == 1


async def test_a_refused_listing_marks_the_source_unavailable_and_keeps_data(
    app: App, tenant: Any
) -> None:
    """A missing permission (403) is an outage the operator can fix: it counts."""
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    message = "Insufficient privileges to complete the operation."
    tenant.refuse_source(
        "education", status=403, code="Authorization_RequestDenied", message=message
    )
    await app.poll()
    assert without_context((await app.get_status(SEED_ID)).json()) == SEED
    health = await source_health(app)
    assert health["http"] == 503
    assert health["status"] == "unavailable"
    assert health["lastPoll"]["outcome"] == "unavailable"
    assert health["lastPoll"]["sourceError"] == {
        "status": 403,
        "code": "Authorization_RequestDenied",
        "message": message,
    }
    tenant.restore_source("education")
    await app.poll()
    assert (await source_health(app))["status"] == "healthy"


async def test_a_listing_that_fails_with_a_server_error_keeps_data(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    tenant.add_fault(
        LIST_PATH, status=500, times=None, code="InternalError", message="Failed to fetch profiles"
    )
    await app.poll()
    assert (await app.get_status(SEED_ID)).status == 200
    health = await source_health(app)
    assert health["lastPoll"]["outcome"] == "failed"
    assert health["lastPoll"]["sourceError"]["code"] == "InternalError"


async def test_a_status_storage_cannot_hold_is_a_reported_failure(app: App, tenant: Any) -> None:
    """JSON can carry a lone surrogate ("\\ud800"); no table or response can encode it."""
    tenant.add_profile("good")
    tenant.add_profile("odd", status={"id": "odd", "status": "error", "statusMessage": "\ud800"})
    await app.poll()
    assert (await app.get_status("good")).status == 200
    assert (await app.get_status("odd")).status == 404
    health = await source_health(app)
    assert health["lastPoll"]["errors"] == [{"code": "invalidResponse", "count": 1}]


async def test_a_renamed_profile_keeps_a_patch_when_its_status_did_not_change(
    app: App, tenant: Any
) -> None:
    tenant.add_profile(SEED_ID, display_name="Contoso High", status=dict(SEED))
    await app.poll()
    await app.patch_status(SEED_ID, {"statusMessage": "patched"})
    tenant.add_profile(SEED_ID, display_name="Contoso High School", status=dict(SEED))
    await app.poll()
    assert (await app.get_status(SEED_ID)).json()["statusMessage"] == "patched"
    (listed,) = (await app.list_profiles()).json()["value"]
    assert listed["displayName"] == "Contoso High School"
    assert listed["profileStatus"]["statusMessage"] == "patched"


async def test_an_unusable_listed_profile_does_not_stop_the_others(app: App, tenant: Any) -> None:
    tenant.add_profile("first")
    await app.poll()
    tenant.add_profile("bad#id")  # no table can hold this id
    tenant.add_profile("after")
    tenant.remove_profile("first")
    await app.poll()
    assert (await app.get_status("after")).status == 200
    assert (await app.get_status("first")).status == 200  # incomplete listing: no removal
    health = await source_health(app)
    assert health["lastPoll"]["outcome"] == "partial"
    assert health["lastPoll"]["errors"] == [{"code": "invalidResponse", "count": 1}]
    assert "bad#id" not in json.dumps(health)  # anonymous health shows no tenant data


@pytest.mark.parametrize(
    "status",
    [
        {"id": "odd", "status": "error", "weight": float("inf")},  # sent as Infinity: not JSON
        {},  # no status at all
        {"id": "odd", "status": "error", "errorCount": -1},
    ],
)
async def test_a_status_that_is_not_a_status_keeps_the_last_good_value(
    app: App, tenant: Any, status: dict[str, Any]
) -> None:
    tenant.add_profile("odd", status={**SEED, "id": "odd"})
    await app.poll()
    tenant.add_profile("odd", status=status)
    await app.poll()
    assert (await app.get_status("odd")).json()["status"] == SEED["status"]
    errors = (await source_health(app))["lastPoll"]["errors"]
    assert errors in (
        [{"code": "invalidJson", "count": 1}],
        [{"code": "invalidResponse", "count": 1}],
    )


@pytest.fixture
async def busy_batches(azurite: Any) -> AsyncIterator[str]:
    """Azurite behind a proxy that answers 503 ServerBusy to every batch transaction, as
    Table Storage does when it throttles; everything else passes through."""
    async with azurite_proxy(azurite, lambda path, _body: path.endswith("/$batch")) as proxied:
        yield proxied


async def test_throttled_writes_are_reported_and_land_at_the_next_poll(
    app: App,
    tenant: Any,
    busy_batches: str,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    tenant.set_status(SEED_ID, status="error")
    use_storage(monkeypatch, busy_batches)
    await app.poll()  # reads pass, the batch write is throttled
    health = await source_health(app)
    assert health["status"] == "degraded"
    assert health["lastPoll"]["errors"] == [{"code": "storageUnavailable", "count": 1}]
    assert (await app.get_status(SEED_ID)).json()["status"] == "inProgress"
    use_storage(monkeypatch, app_settings["AzureWebJobsStorage"])
    await app.poll()  # Graph's change was not lost: it lands now
    assert (await app.get_status(SEED_ID)).json()["status"] == "error"
    assert (await source_health(app))["status"] == "healthy"


def use_storage(monkeypatch: pytest.MonkeyPatch, connection_string: str) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", connection_string)
    composition.reload_settings()
