"""Discovery of provisioning jobs (``PROVISIONING_SERVICE_PRINCIPAL_IDS=auto``, the default):
every service principal listed and asked for its jobs through ``$batch``, the ones with jobs
kept in Table Storage so that the regular poll asks only them; counted over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from shared import composition
from shared.core.time import utc_now
from shared.storage.store import StatusStore
from tests.support.app import App
from tools import graph_tenant as graph

JOBS = "synchronizationJobs"
SP_SAAS = "5a1c0e3e-7b8d-4c2f-9e4a-1d2b3c4d5e01"
SP_CLOUD_SYNC = "5a1c0e3e-7b8d-4c2f-9e4a-1d2b3c4d5e02"
SP_CROSS_TENANT = "5a1c0e3e-7b8d-4c2f-9e4a-1d2b3c4d5e03"
SP_REFUSING = "5a1c0e3e-7b8d-4c2f-9e4a-1d2b3c4d5e04"


@pytest.fixture
def jobs_only(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Discovery is the default: nothing names the service principals."""
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("jobs_only")


def add_principals_with_jobs(tenant: Any) -> dict[str, str]:
    """A SaaS app, a cloud sync and a cross-tenant sync job, and a principal that refuses."""
    tenant.add_service_principal(SP_SAAS, display_name="Dropbox Business")
    tenant.add_service_principal(SP_CLOUD_SYNC, display_name="contoso.local")
    tenant.add_service_principal(SP_CROSS_TENANT, display_name="Fabrikam cross-tenant sync")
    tenant.add_service_principal(SP_REFUSING, display_name="Legacy HR app")
    jobs = {
        SP_SAAS: tenant.add_job(SP_SAAS, template_id="dropboxSCIM"),
        SP_CLOUD_SYNC: tenant.add_job(SP_CLOUD_SYNC, template_id="AD2AADProvisioning"),
        SP_CROSS_TENANT: tenant.add_job(SP_CROSS_TENANT, template_id="Azure2Azure"),
    }
    tenant.add_job(SP_REFUSING, template_id="scim")
    tenant.refuse_jobs(SP_REFUSING)
    return jobs


def calls(tenant: Any) -> dict[str, int]:
    """The tenant's requests by kind: listing pages, $batch envelopes, direct job listings."""
    counted = {"listingPages": 0, "batches": 0, "jobListings": 0, "batched": 0}
    for request in tenant.requests:
        if request.batched:
            counted["batched"] += 1
        elif request.path == "/v1.0/servicePrincipals":
            counted["listingPages"] += 1
        elif request.path.endswith("/$batch"):
            counted["batches"] += 1
        elif request.path.endswith("/synchronization/jobs"):
            counted["jobListings"] += 1
    return counted


async def rows(app: App) -> dict[str, dict[str, Any]]:
    reply = await app.statuses(source=JOBS)
    assert reply.status == 200, reply.body
    return {row["id"]: row for row in reply.json()["value"]}


async def jobs_health(app: App) -> tuple[int, dict[str, Any]]:
    reply = await app.health()
    (entry,) = [s for s in reply.json()["sources"] if s["source"] == JOBS]
    return reply.status, entry


async def test_3000_principals_are_discovered_in_150_batches_then_only_those_with_jobs_polled(
    app: App, tenant: Any
) -> None:
    graph.populate_service_principals(tenant, 2996, seed=7)
    jobs = add_principals_with_jobs(tenant)
    assert len(tenant.service_principals) == 3000
    tenant.clear_requests()
    await app.poll()
    first = calls(tenant)
    assert first["batches"] == 150  # 3,000 principals, 20 to a $batch
    assert first["batched"] == 3000
    assert first["listingPages"] == 4  # 999 a page
    assert first["jobListings"] == 3  # then the poll itself: the principals with jobs
    status, entry = await jobs_health(app)
    assert status == 200 and entry["status"] == "healthy"
    discovery = entry["lastPoll"]["details"]["discovery"]
    assert (discovery["servicePrincipals"], discovery["withJobs"]) == (3000, 3)
    assert (discovery["refused"], discovery["batchRequests"], discovery["listingPages"]) == (
        1, 150, 4,
    )  # fmt: skip
    names = {row_id: row["displayName"] for row_id, row in (await rows(app)).items()}
    assert names == {
        f"{SP_SAAS}:{jobs[SP_SAAS]}": "Dropbox Business: app provisioning (dropboxSCIM)",
        f"{SP_CLOUD_SYNC}:{jobs[SP_CLOUD_SYNC]}": "contoso.local: Entra Cloud Sync (AD to Entra ID)",
        f"{SP_CROSS_TENANT}:{jobs[SP_CROSS_TENANT]}": (
            "Fabrikam cross-tenant sync: cross-tenant synchronization"
        ),
    }
    tenant.clear_requests()
    await app.poll()  # discovery is not due: three requests, one per principal with jobs
    assert calls(tenant) == {"listingPages": 0, "batches": 0, "jobListings": 3, "batched": 0}


async def test_a_principal_gaining_and_losing_jobs_is_followed_between_discoveries(
    app: App, tenant: Any, app_settings: dict[str, str]
) -> None:
    jobs = add_principals_with_jobs(tenant)
    late = "5a1c0e3e-7b8d-4c2f-9e4a-1d2b3c4d5e05"
    tenant.add_service_principal(late, display_name="ServiceNow")
    await app.poll()
    late_job = tenant.add_job(late, template_id="serviceNowOutDelta")
    tenant.remove_job(SP_SAAS, jobs[SP_SAAS])
    await app.poll()  # not rediscovered yet: the late job is unknown, the removed one goes
    found = await rows(app)
    assert f"{late}:{late_job}" not in found
    assert f"{SP_SAAS}:{jobs[SP_SAAS]}" not in found  # its principal's listing is complete
    await _discovery_due(app_settings)
    await app.poll()
    found = await rows(app)
    assert found[f"{late}:{late_job}"]["displayName"] == (
        "ServiceNow: app provisioning (serviceNowOutDelta)"
    )
    _status, entry = await jobs_health(app)
    assert entry["lastPoll"]["details"]["discovery"]["withJobs"] == 3  # SP_SAAS has none now


async def test_a_refusing_principal_is_not_monitored_and_not_an_error(
    app: App, tenant: Any
) -> None:
    add_principals_with_jobs(tenant)
    await app.poll()
    assert not [row_id for row_id in await rows(app) if row_id.startswith(SP_REFUSING)]
    status, entry = await jobs_health(app)
    assert status == 200
    assert entry["lastPoll"]["outcome"] == "succeeded"
    assert entry["lastPoll"]["details"]["discovery"]["refused"] == 1


async def test_named_principals_are_polled_without_discovery(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_principals_with_jobs(tenant)
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", SP_SAAS)
    composition.reload_settings()
    tenant.clear_requests()
    await app.poll()
    assert calls(tenant)["listingPages"] == 0
    (row,) = (await rows(app)).values()
    assert row["displayName"].startswith("Dropbox Business: ")


async def _discovery_due(app_settings: dict[str, str]) -> None:
    """Move the last discovery back two days, as if its interval had passed."""
    store = StatusStore.from_settings(composition.settings())
    try:
        state = store.state_of(JOBS)
        kept = await state.load("discovery")
        kept["discoveredDateTime"] = "2020-01-01T00:00:00.0000000Z"
        await state.save("discovery", kept)
        assert kept["discoveredDateTime"] < utc_now()
    finally:
        await store.close()


async def test_every_principal_refusing_is_a_missing_permission_not_an_empty_tenant(
    app: App, tenant: Any
) -> None:
    jobs = add_principals_with_jobs(tenant)
    await app.poll()
    assert len(await rows(app)) == 3
    await _discovery_due_now()
    for sp_id in (SP_SAAS, SP_CLOUD_SYNC, SP_CROSS_TENANT):
        tenant.refuse_jobs(sp_id)  # as when Synchronization.Read.All was taken away
    await app.poll()
    status, entry = await jobs_health(app)
    assert (status, entry["status"]) == (503, "unavailable")
    assert entry["lastPoll"]["sourceError"]["status"] == 403
    assert entry["lastPoll"]["details"]["discovery"]["error"]["status"] == 403
    found = await rows(app)  # the cache is kept, nothing removed
    assert f"{SP_SAAS}:{jobs[SP_SAAS]}" in found and len(found) == 3


async def test_a_principal_that_failed_discovery_is_asked_again_at_the_next_poll(
    app: App, tenant: Any
) -> None:
    jobs = add_principals_with_jobs(tenant)
    tenant.add_fault(
        f"/v1.0/servicePrincipals/{SP_SAAS}/synchronization/jobs", status=500, times=None
    )
    await app.poll()
    _status, entry = await jobs_health(app)
    assert entry["lastPoll"]["details"]["discovery"]["failed"] == 1
    assert f"{SP_SAAS}:{jobs[SP_SAAS]}" not in await rows(app)
    tenant.clear_faults()
    await app.poll()  # not a new discovery: only that principal is asked again
    assert f"{SP_SAAS}:{jobs[SP_SAAS]}" in await rows(app)


async def _discovery_due_now() -> None:
    await _discovery_due({})
