"""Ids that go into a Graph path (``shared/core/graph_ids.py``), against the simulated tenant
over HTTP and Azurite: an id Graph sends that is not a Graph id (``..``, an escape, a
separator) is left out of the cache and counted on the source's health entry, never put into
a request; a caller's jobId that fails the same rule is a 400 that never reaches Graph.

The defect this guards: a job id ``..`` sent by Graph was cached, and
``POST /api/servicePrincipals/{sp}/synchronization/jobs/%2E%2E/start`` then reached Graph as
``POST /v1.0/servicePrincipals/{sp}/synchronization/start``."""

from __future__ import annotations

from typing import Any

import pytest

from shared import composition
from shared.core.graph_ids import (
    MAX_GRAPH_ID_LENGTH,
    UnsafeGraphIdError,
    graph_segment,
    unsafe_reason,
)
from tests.support.app import App, Reply

JOBS = "synchronizationJobs"
PROFILES = "educationSynchronizationProfiles"
SP = "8d4f3b6b-0e1a-4f5c-9b7d-4a5b6c7d8e01"
JOBS_PATH = f"/v1.0/servicePrincipals/{SP}/synchronization/jobs"
PROFILES_PATH = "/beta/education/synchronizationProfiles"

REAL_IDS = [
    SP,
    "scim.8f2b1c0d9e8a4b7c6d5e4f3a2b1c0d9e.0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "AD2AADProvisioning.fd1c9b9e8077402c8bc03a7186c8f976.c9d2f1b4-1b5c-4f5e-9b0a-1c2d3e4f5a6b",
    "API2AAD.0123456789abcdef0123456789abcdef.11111111-2222-3333-4444-555555555555",
    "job.ok",
    "sds-ok",
    "p_1",
]
# A hostile Graph's ids, each with the reason it is counted under.
HOSTILE_IDS = {
    "..": "dotSegment",
    ".": "dotSegment",
    "%2E%2E": "reservedCharacter",
    "%2e%2e": "reservedCharacter",
    "a%2Fb": "reservedCharacter",
    "a\\b": "reservedCharacter",
    "../../servicePrincipals": "dotSegment",
    "a\x00b": "controlCharacter",
    "a\tb": "controlCharacter",
    "scim..x": "notAGraphId",
    ".scim": "notAGraphId",
    "scim.": "notAGraphId",
    "a b": "notAGraphId",
    "caf\u00e9": "notAGraphId",
    "j" * (MAX_GRAPH_ID_LENGTH + 1): "tooLong",
}


@pytest.fixture
def jobs_on(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", SP)
    monkeypatch.setenv("PROVISIONING_ACTIONS_ENABLED", "true")
    composition.reload_settings()


async def act(app: App, action: str, job_id: str) -> Reply:
    return await app.call(
        f"{action}_synchronization_job",
        method="POST",
        route_params={"servicePrincipalId": SP, "jobId": job_id},
        headers={"Content-Type": "application/json"},
    )


async def cached_ids(app: App, source: str) -> set[str]:
    reply = await app.statuses(source=source)
    assert reply.status == 200, reply.body
    return {row["id"] for row in reply.json()["value"]}


async def last_poll(app: App, source: str) -> dict[str, Any]:
    sources = {entry["source"]: entry for entry in (await app.health()).json()["sources"]}
    return sources[source]["lastPoll"]


def graph_requests_outside(tenant: Any, prefix: str) -> list[str]:
    """Graph requests (sub-requests of a $batch too) whose path is not under ``prefix``."""
    return [
        f"{r.method} {r.path}"
        for r in tenant.requests
        if not r.path.startswith(prefix) and not r.path.endswith("/$batch")
    ]


@pytest.mark.parametrize("value", REAL_IDS)
def test_real_graph_ids_pass_unchanged(value: str) -> None:
    assert unsafe_reason(value) is None
    assert graph_segment(value) == value


@pytest.mark.parametrize(("value", "reason"), HOSTILE_IDS.items(), ids=repr)
def test_ids_that_could_leave_their_segment_are_refused(value: str, reason: str) -> None:
    assert unsafe_reason(value) == reason
    with pytest.raises(UnsafeGraphIdError) as raised:
        graph_segment(value, name="jobId")
    assert raised.value.target == "jobId" and raised.value.reason == reason
    assert value not in raised.value.message or len(value) < 3  # the id is not quoted


@pytest.mark.usefixtures("jobs_on")
async def test_a_job_id_dot_dot_is_not_cached_and_no_action_reaches_graph(
    app: App, tenant: Any
) -> None:
    tenant.add_service_principal(SP, display_name="Canvas LMS")
    good = tenant.add_job(SP, template_id="scim")
    tenant.add_job(SP, "..", template_id="scim")
    await app.poll()
    assert await cached_ids(app, JOBS) == {f"{SP}:{good}"}
    poll = await last_poll(app, JOBS)
    assert poll["outcome"] == "partial"
    assert {"code": "unsafeGraphId", "count": 1} in poll["errors"]
    unsafe = poll["details"]["unsafeIds"]
    assert (unsafe["count"], unsafe["reasons"]) == (1, {"dotSegment": 1})
    tenant.clear_requests()
    for job_id in ("..", "%2E%2E", "."):  # the host decodes %2E%2E to .. before the route
        reply = await act(app, "start", job_id)
        assert reply.status == 400, reply.body
        error = reply.json()["error"]
        assert (error["code"], error["target"]) == ("BadRequest", "jobId")
        assert "not a Graph id" in error["message"]
    assert tenant.requests == [] and tenant.job_actions == []
    assert (await act(app, "start", good)).status == 202  # the rule lets real ids through
    assert graph_requests_outside(tenant, f"{JOBS_PATH}/{good}") == []


@pytest.mark.usefixtures("jobs_on")
async def test_a_hostile_listing_is_counted_by_reason_and_only_real_ids_cached(
    app: App, tenant: Any
) -> None:
    good = tenant.add_job(SP, template_id="scim")
    job = tenant.get_job(SP, good)
    listed = [job] + [{**job, "id": job_id} for job_id in HOSTILE_IDS]
    tenant.add_fault(JOBS_PATH, status=200, body={"value": listed}, times=None)
    await app.poll()
    assert await cached_ids(app, JOBS) == {f"{SP}:{good}"}
    poll = await last_poll(app, JOBS)
    # Ids Table Storage could not hold anyway (\, control characters) fail before the rule.
    unsafe = poll["details"]["unsafeIds"]
    counted = {"code": "unsafeGraphId", "count": unsafe["count"]}
    assert counted in poll["errors"]
    assert unsafe["count"] == sum(unsafe["reasons"].values()) >= 10
    assert unsafe["reasons"]["dotSegment"] >= 2 and unsafe["reasons"]["reservedCharacter"] >= 3
    assert poll["counts"]["failed"] == len(HOSTILE_IDS)
    assert {r.path for r in tenant.requests if "/synchronization" in r.path} == {JOBS_PATH}


@pytest.mark.usefixtures("jobs_on")
async def test_a_caller_cannot_name_an_unsafe_job_id_even_for_a_job_never_listed(
    app: App, tenant: Any
) -> None:
    tenant.add_job(SP, template_id="scim")
    await app.poll()
    tenant.clear_requests()
    for job_id in ("a%2Fb", "../..", "x?y", "x#y", "scim.", "a b"):
        for action in ("start", "pause", "restart"):
            reply = await act(app, action, job_id)
            assert reply.status == 400, (job_id, reply.body)
            assert reply.json()["error"]["target"] == "jobId"
    assert tenant.requests == []


async def test_a_profile_whose_id_is_not_a_graph_id_is_not_asked_for_its_status(
    app: App, tenant: Any
) -> None:
    """School Data Sync puts each profile's id into a $batch path: the same rule holds."""
    tenant.add_profile("sds-ok")
    tenant.add_profile("..")
    tenant.add_profile("%2e%2e")
    await app.poll()
    assert await cached_ids(app, PROFILES) == {"sds-ok"}
    poll = await last_poll(app, PROFILES)
    assert {"code": "unsafeGraphId", "count": 2} in poll["errors"]
    unsafe = poll["details"]["unsafeIds"]
    assert unsafe["reasons"] == {"dotSegment": 1, "reservedCharacter": 1}
    asked = [r.path for r in tenant.requests if r.batched]
    assert asked == [f"{PROFILES_PATH}/sds-ok/profileStatus"]


async def test_a_profile_left_out_for_its_id_does_not_keep_the_others_from_being_removed(
    app: App, tenant: Any
) -> None:
    tenant.add_profile("sds-a")
    tenant.add_profile("sds-b")
    await app.poll()
    tenant.remove_profile("sds-b")
    tenant.add_profile("..")
    await app.poll()
    assert await cached_ids(app, PROFILES) == {"sds-a"}


async def test_a_run_whose_id_is_not_a_graph_id_is_left_out_and_its_statistics_never_asked(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's id goes into the path of its statistics: '..' would read another resource."""
    monkeypatch.setenv("INDUSTRY_DATA_RUNS_ENABLED", "true")
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    composition.reload_settings()
    good = tenant.add_run(status="completedWithErrors")
    tenant.add_run("..", status="completedWithErrors")
    await app.poll()
    assert await cached_ids(app, "industryDataRuns") == {good}
    poll = await last_poll(app, "industryDataRuns")
    assert {"code": "unsafeGraphId", "count": 1} in poll["errors"]
    assert poll["details"]["unsafeIds"]["reasons"] == {"dotSegment": 1}
    asked = [r.path for r in tenant.requests if r.path.endswith("getStatistics")]
    assert asked == [f"/beta/external/industryData/runs/{good}/getStatistics"]
