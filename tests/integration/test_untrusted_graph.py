"""Graph's answers are untrusted input: a nextLink is followed only to Graph's own origin and
version, a listing has a page bound, a poll has a deadline, and a ``$batch`` answer is matched
id by id; what fails is reported on /api/health, never silently kept or skipped. Each test is
a hostile tenant over real HTTP (faults with a body of its choosing) against Azurite."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared import composition
from tests.support.app import App

PROFILES = "/beta/education/synchronizationProfiles"
PRINCIPALS = "/v1.0/servicePrincipals"
SP_IDS = [f"5a1c0e3e-7b8d-4c2f-9e4a-1d2b3c4d5e{index:02d}" for index in range(20)]
JOBS = "synchronizationJobs"
SDS = "educationSynchronizationProfiles"


@pytest.fixture
async def elsewhere() -> AsyncIterator[Any]:
    """Another Graph-like server on this machine: a nextLink must never reach it."""
    from tools.graph_tenant import SimulatedTenant

    async with SimulatedTenant() as other:
        for index in range(3):
            other.add_profile(f"foreign{index}")
        yield other


def jobs_on(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    composition.reload_settings()


async def health_of(app: App, source: str) -> tuple[int, dict[str, Any]]:
    reply = await app.health()
    (entry,) = [s for s in reply.json()["sources"] if s["source"] == source]
    return reply.status, entry


def page_of(ids: list[str], next_link: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "value": [{"id": i, "displayName": i, "state": "provisioned"} for i in ids]
    }
    if next_link is not None:
        page["@odata.nextLink"] = next_link
    return page


# -- nextLink: Graph's own origin and version only ------------------------------------------


async def test_a_foreign_next_link_is_not_followed_and_the_listing_is_incomplete(
    app: App, tenant: Any, elsewhere: Any
) -> None:
    tenant.add_profile("p0")
    tenant.add_profile("gone")
    await app.poll()
    tenant.remove_profile("gone")
    foreign = f"{elsewhere.url}{PROFILES}?%24skiptoken=2"
    tenant.add_fault(PROFILES, status=200, times=None, body=page_of(["p0"], foreign))
    await app.poll()
    assert elsewhere.requests == []  # never asked, so nothing of it kept
    statuses = {row["id"] for row in (await app.statuses()).json()["value"]}
    assert statuses == {"p0", "gone"}  # an incomplete listing removes nothing
    status, entry = await health_of(app, SDS)
    assert status == 503
    assert entry["lastPoll"]["outcome"] == "partial"
    assert entry["lastPoll"]["sourceError"]["code"] == "invalidNextLink"
    assert elsewhere.url not in str(entry)


@pytest.mark.parametrize(
    "link",
    [
        "{base}/v1.0/education/synchronizationProfiles?page=2",  # another version
        "{base}/beta/../v1.0/servicePrincipals",  # a dot segment out of the version
        "{base}/beta/%2e%2e/v1.0/servicePrincipals",
        "http://user:secret@{host}/beta/education/synchronizationProfiles?page=2",
        "ftp://{host}/beta/education/synchronizationProfiles",
        "{base}/beta/education/synchronizationProfiles?x=\r\nInjected: 1",
        "{base}/beta/education/synchronizationProfiles?\\",
    ],
)
async def test_next_links_off_graphs_version_path_are_refused(
    app: App, tenant: Any, link: str
) -> None:
    host = tenant.url.split("://", 1)[1]
    tenant.add_fault(
        PROFILES,
        status=200,
        body=page_of(["p0"], link.replace("{host}", host)),
    )
    await app.poll()
    assert [r.path for r in tenant.requests if not r.batched].count(PROFILES) == 1
    _status, entry = await health_of(app, SDS)
    assert entry["lastPoll"]["sourceError"]["code"] == "invalidNextLink"


async def test_a_next_link_to_azurite_puts_nothing_of_it_on_health(
    app: App, tenant: Any, azurite: Any
) -> None:
    probe = f"http://127.0.0.1:{azurite.port}/devstoreaccount1/Tables"
    tenant.add_fault(PROFILES, status=200, body=page_of(["p0"], probe))
    await app.poll()
    reply = await app.health()
    assert "devstoreaccount1" not in reply.body.decode()
    assert str(azurite.port) not in reply.body.decode()
    _status, entry = await health_of(app, SDS)
    assert entry["lastPoll"]["sourceError"]["code"] == "invalidNextLink"


async def test_a_foreign_next_link_in_discovery_makes_no_rows(
    app: App, tenant: Any, elsewhere: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs_on(monkeypatch)
    for sp_id in SP_IDS[:2]:
        elsewhere.add_service_principal(sp_id, display_name="Foreign")
        elsewhere.add_job(sp_id, template_id="scim")
    foreign = f"{elsewhere.url}{PRINCIPALS}?%24skiptoken=2"
    tenant.add_fault(PRINCIPALS, status=200, body={"value": [], "@odata.nextLink": foreign})
    await app.poll()
    assert elsewhere.requests == []
    assert (await app.statuses(source=JOBS)).json()["value"] == []
    status, entry = await health_of(app, JOBS)
    assert status == 503
    assert entry["lastPoll"]["details"]["discovery"]["error"]["code"] == "invalidNextLink"


async def test_a_foreign_next_link_in_a_jobs_listing_keeps_the_jobs_as_they_were(
    app: App, tenant: Any, elsewhere: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sp_id = SP_IDS[0]
    jobs_on(monkeypatch, PROVISIONING_SERVICE_PRINCIPAL_IDS=sp_id)
    tenant.add_service_principal(sp_id, display_name="Dropbox")
    tenant.add_job(sp_id, template_id="dropboxSCIM")
    await app.poll()
    (before,) = (await app.statuses(source=JOBS)).json()["value"]
    listing = f"{PRINCIPALS}/{sp_id}/synchronization/jobs"
    foreign = f"{elsewhere.url}{listing}?%24skiptoken=2"
    tenant.add_fault(listing, status=200, body={"value": [], "@odata.nextLink": foreign})
    await app.poll()
    assert elsewhere.requests == []
    (after,) = (await app.statuses(source=JOBS)).json()["value"]
    assert after == before  # kept as it was: not replaced by an incomplete listing
    _status, entry = await health_of(app, JOBS)
    assert entry["lastPoll"]["sourceError"]["code"] == "invalidNextLink"


async def test_a_foreign_next_link_in_the_provisioning_logs_is_not_followed(
    app: App, tenant: Any, elsewhere: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sp_id = SP_IDS[0]
    jobs_on(monkeypatch, PROVISIONING_SERVICE_PRINCIPAL_IDS=sp_id, PROVISIONING_LOGS_ENABLED="true")
    tenant.add_service_principal(sp_id, display_name="Dropbox")
    tenant.add_job(sp_id, template_id="dropboxSCIM")
    foreign = f"{elsewhere.url}/v1.0/auditLogs/provisioning?%24skiptoken=2"
    tenant.add_fault(
        "/v1.0/auditLogs/provisioning",
        status=200,
        body={"value": [], "@odata.nextLink": foreign},
    )
    await app.poll()
    assert elsewhere.requests == []
    _status, entry = await health_of(app, JOBS)
    logs = entry["lastPoll"]["details"]["provisioningLogs"]
    assert logs["outcome"] == "failed" and logs["error"]["code"] == "invalidNextLink"


# -- page bound and deadline ----------------------------------------------------------------


async def test_an_endless_chain_of_next_links_stops_at_the_page_bound(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPH_MAX_PAGES", "5")
    composition.reload_settings()
    endless = page_of(["p0"], "{base}" + PROFILES + "?%24skiptoken={hit}")
    tenant.add_fault(PROFILES, status=200, times=None, body=endless)
    await app.poll()
    assert [r.path for r in tenant.requests if not r.batched].count(PROFILES) == 5
    status, entry = await health_of(app, SDS)
    assert status == 503
    assert entry["lastPoll"]["sourceError"]["code"] == "tooManyPages"


async def test_a_poll_stops_reading_graph_at_its_deadline_and_says_so(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_DEADLINE_SECONDS", "1")
    composition.reload_settings()
    tenant.add_profile("p0")
    await app.poll()
    endless = page_of(["p0"], "{base}" + PROFILES + "?%24skiptoken={hit}")
    tenant.add_fault(PROFILES, status=200, times=None, delay=0.2, body=endless)
    started = time.monotonic()
    await app.poll()
    assert time.monotonic() - started < 10  # the deadline, plus writing what was read
    _status, entry = await health_of(app, SDS)
    assert entry["lastPoll"]["sourceError"]["code"] == "pollDeadlineExceeded"
    assert entry["lastPoll"]["outcome"] == "partial"
    tenant.clear_faults()
    await app.poll()  # the next run is not starved: it polls as usual
    status, entry = await health_of(app, SDS)
    assert status == 200 and entry["lastPoll"]["outcome"] == "succeeded"


def test_the_poll_deadline_defaults_to_most_of_the_schedules_interval() -> None:
    from shared.sources import load_settings

    base = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert load_settings(base).poll_deadline_seconds == 240
    every_minute = load_settings({**base, "POLL_SCHEDULE": "0 * * * * *"})
    assert every_minute.poll_deadline_seconds == 48


# -- $batch answers, id by id -----------------------------------------------------------------


def add_principals(tenant: Any, count: int) -> None:
    for sp_id in SP_IDS[:count]:
        tenant.add_service_principal(sp_id, display_name=f"App {sp_id[-2:]}")
        tenant.add_job(sp_id, template_id="scim")


async def test_shifted_batch_ids_fail_every_sub_request_and_they_are_asked_again(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs_on(monkeypatch)
    add_principals(tenant, 3)
    shifted = {
        "responses": [
            {"id": str(index + 1), "status": 200, "body": {"value": []}} for index in range(3)
        ]
    }
    tenant.add_fault(r"/v1\.0/\$batch", method="POST", status=200, body=shifted)
    await app.poll()
    status, entry = await health_of(app, JOBS)
    assert status == 503 and entry["status"] == "unavailable"
    discovery = entry["lastPoll"]["details"]["discovery"]
    assert discovery["failed"] == 3
    assert entry["lastPoll"]["sourceError"]["code"] == "invalidBatchResponse"
    await app.poll()  # asked again at once, not a day later
    assert len((await app.statuses(source=JOBS)).json()["value"]) == 3
    assert (await app.health()).status == 200


async def test_a_missing_or_repeated_batch_id_fails_that_principal_alone(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs_on(monkeypatch)
    add_principals(tenant, 3)
    await app.poll()  # discovery finds the three
    await app.poll()
    jobs = {"value": [{"id": "scim.x", "status": {"code": "Active"}}]}
    repeated = {
        "responses": [
            {"id": "0", "status": 200, "body": jobs},
            {"id": "0", "status": 200, "body": {"value": []}},
            {"id": "1", "status": 200, "body": jobs},
        ]
    }
    # Discovery again: every principal asked through $batch, the answer repeats 0, leaves 2 out.
    monkeypatch.setenv("PROVISIONING_DISCOVERY_INTERVAL_HOURS", "1")
    composition.reload_settings()
    state = composition.services()[1].state_of(JOBS)
    kept = await state.load("discovery")
    kept["discoveredDateTime"] = "2020-01-01T00:00:00Z"
    await state.save("discovery", kept)
    tenant.add_fault(r"/v1\.0/\$batch", method="POST", status=200, body=repeated)
    await app.poll()
    _status, entry = await health_of(app, JOBS)
    discovery = entry["lastPoll"]["details"]["discovery"]
    assert discovery["failed"] == 2
    assert discovery["failedCodes"] == {"invalidBatchResponse": 2}
    assert entry["lastPoll"]["outcome"] == "partial"  # 2 of 3 failed: over a tenth
    assert {"code": "discoveryIncomplete", "count": 1} in entry["lastPoll"]["errors"]
    # The principals known before are still polled; nothing was dropped.
    assert len((await app.statuses(source=JOBS)).json()["value"]) == 3


async def test_discovery_throttled_for_every_principal_is_an_outage_not_an_empty_tenant(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs_on(monkeypatch)
    add_principals(tenant, 3)
    tenant.add_fault(
        rf"{PRINCIPALS}/[^/]+/synchronization/jobs", status=429, retry_after=0, times=None
    )
    await app.poll()
    status, entry = await health_of(app, JOBS)
    assert status == 503
    assert entry["status"] == "unavailable"
    assert entry["lastPoll"]["details"]["discovery"]["failed"] == 3
    assert entry["lastPoll"]["sourceError"]["status"] == 429


async def test_a_few_failed_principals_leave_the_poll_succeeded(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs_on(monkeypatch)
    add_principals(tenant, 20)
    tenant.add_fault(rf"{PRINCIPALS}/{SP_IDS[0]}/synchronization/jobs", status=500, times=None)
    await app.poll()
    status, entry = await health_of(app, JOBS)
    assert entry["lastPoll"]["details"]["discovery"]["failed"] == 1  # 1 of 20: within a tenth
    assert status == 200 and entry["lastPoll"]["outcome"] == "succeeded"
