"""Tests of the simulated tenant's provisioning job actions (v1.0 ``start``, ``pause`` and
``restart``): their effect on the job read back, their errors, and the log of actions taken.
Over real HTTP against an in-process tenant, like test_graph_tenant.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tools.graph_tenant import (
    SimulatedTenant,
    entry_level_errors_job_status,
    job_status,
    quarantined_job_status,
)

GRAPH_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")
REFUSED = {
    "code": "Authorization_RequestDenied",
    "message": "Insufficient privileges to complete the operation.",
}


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant(page_size=2) as running:
        yield running


@pytest.fixture
async def client(tenant: SimulatedTenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tenant.url, timeout=5, trust_env=False) as http:
        yield http


def job_path(sp_id: str, job_id: str) -> str:
    return f"/v1.0/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}"


async def act(
    client: httpx.AsyncClient, action: str, body: Any = None, job: str = "job1", **options: Any
) -> httpx.Response:
    return await client.post(f"{job_path('sp1', job)}/{action}", json=body, **options)


async def read_status(client: httpx.AsyncClient, job: str = "job1") -> dict[str, Any]:
    response = await client.get(job_path("sp1", job))
    assert response.status_code == 200
    return response.json()["status"]


def restart_body(scope: str) -> dict[str, Any]:
    return {"criteria": {"resetScope": scope}}


async def test_pause_then_start_resumes_the_job(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")

    paused = await act(client, "pause")
    paused_job = (await client.get(job_path("sp1", "job1"))).json()
    started = await act(client, "start")
    started_job = (await client.get(job_path("sp1", "job1"))).json()

    for response in (paused, started):
        assert response.status_code == 204
        assert response.content == b""
        assert "content-type" not in response.headers
        assert response.headers["request-id"]
    assert paused_job["status"]["code"] == "Paused"
    assert paused_job["schedule"]["state"] == "Paused"
    assert started_job["status"]["code"] == "Active"
    assert started_job["schedule"]["state"] == "Active"
    assert started_job["status"]["lastExecution"] == paused_job["status"]["lastExecution"]


async def test_start_lifts_a_quarantine(tenant: SimulatedTenant, client: httpx.AsyncClient) -> None:
    tenant.add_job("sp1", "job1", status=quarantined_job_status())

    started = await act(client, "start")
    status = await read_status(client)

    assert started.status_code == 204
    assert status["code"] == "Active"
    assert status["quarantine"] is None


async def test_restart_with_quarantine_state_lifts_the_quarantine_at_once(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1", status=quarantined_job_status())
    tenant.add_job("sp1", "job2", status=quarantined_job_status())

    kept = await act(client, "restart", restart_body("Watermark"))
    kept_status = await read_status(client)
    lifted = await act(client, "restart", restart_body("Watermark, Escrows, QuarantineState"))
    lifted_status = await read_status(client)
    full = await act(client, "restart", restart_body("Full"), job="job2")
    full_status = await read_status(client, "job2")

    assert [kept.status_code, lifted.status_code, full.status_code] == [204, 204, 204]
    assert kept_status["code"] == "Quarantine"
    assert kept_status["quarantine"] is not None
    assert kept_status["lastExecution"]["countEscrowed"] == 687
    for status in (lifted_status, full_status):
        assert status["code"] == "Active"
        assert status["quarantine"] is None
        assert status["lastExecution"]["countEscrowed"] == 0
        assert status["lastExecution"]["countEscrowedRaw"] == 0


async def test_restart_with_escrows_clears_the_escrowed_counts_only(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1", status=entry_level_errors_job_status())
    before = await read_status(client)

    restarted = await act(client, "restart", restart_body("Escrows"))
    after = await read_status(client)

    assert restarted.status_code == 204
    assert before["lastExecution"]["countEscrowed"] == 12
    assert after["code"] == "Active"
    assert after["lastExecution"]["countEscrowed"] == 0
    assert after["lastExecution"]["countEscrowedRaw"] == 0
    assert after["lastExecution"]["countExported"] == before["lastExecution"]["countExported"]
    assert after["lastSuccessfulExecution"] == before["lastSuccessfulExecution"]


@pytest.mark.parametrize(
    "body",
    [None, {}, {"criteria": None}, {"criteria": {}}, restart_body(""), restart_body("None")],
    ids=["no body", "empty", "null criteria", "no scope", "empty scope", "None"],
)
async def test_restart_without_a_scope_is_the_admin_centers_restart(
    tenant: SimulatedTenant, client: httpx.AsyncClient, body: Any
) -> None:
    """Graph documents an empty resetScope as QuarantineState, Watermark and Escrows; None
    resets nothing."""
    tenant.add_job("sp1", "job1", status=quarantined_job_status())

    restarted = await act(client, "restart", body)
    status = await read_status(client)

    assert restarted.status_code == 204
    if body == restart_body("None"):
        assert status["code"] == "Quarantine"
        assert status["lastExecution"]["countEscrowed"] == 687
    else:
        assert status["code"] == "Active"
        assert status["quarantine"] is None
        assert status["lastExecution"]["countEscrowed"] == 0


async def test_restart_leaves_a_paused_job_paused_and_starts_the_others(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1", status=job_status("Paused"))
    tenant.add_job("sp1", "job2", status=job_status("NotRun"))

    paused = await act(client, "restart", restart_body("Full"))
    not_run = await act(client, "restart", job="job2")

    assert [paused.status_code, not_run.status_code] == [204, 204]
    assert (await read_status(client))["code"] == "Paused"
    assert (await read_status(client, "job2"))["code"] == "Active"


@pytest.mark.parametrize(
    "content",
    [
        b'{"criteria": {"resetScope": "Watermark, Bogus"}}',
        b'{"criteria": {"resetScope": "watermark"}}',
        b'{"criteria": {"resetScope": "Watermark,,Escrows"}}',
        b'{"criteria": {"resetScope": 3}}',
        b'{"criteria": {"resetScope": "Full", "extra": 1}}',
        b'{"criteria": "Full"}',
        b'{"resetScope": "Full"}',
        b"[1, 2]",
        b"not json",
        b'{"criteria": ',
    ],
)
async def test_a_bad_restart_body_is_a_bad_request_and_changes_nothing(
    tenant: SimulatedTenant, client: httpx.AsyncClient, content: bytes
) -> None:
    tenant.add_job("sp1", "job1", status=quarantined_job_status())
    before = tenant.get_job("sp1", "job1")

    response = await client.post(
        f"{job_path('sp1', 'job1')}/restart",
        content=content,
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["message"]
    assert tenant.get_job("sp1", "job1") == before
    assert tenant.job_actions == []


async def test_a_bad_flag_names_the_value_and_the_enum(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")

    response = await act(client, "restart", restart_body("Escrows, Bogus"))

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Cannot convert the literal 'Escrows, Bogus' to the expected type "
        "'microsoft.graph.synchronizationJobRestartScope'."
    )


@pytest.mark.parametrize("action", ["start", "pause", "restart"])
async def test_unknown_principals_and_jobs_get_graph_404s(
    tenant: SimulatedTenant, client: httpx.AsyncClient, action: str
) -> None:
    tenant.add_job("sp1", "job1")

    missing_job = await act(client, action, job="job2", headers={"client-request-id": "c-1"})
    missing_sp = await client.post(f"{job_path('nope', 'job1')}/{action}")

    for response, object_id in ((missing_job, "job2"), (missing_sp, "nope")):
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "Request_ResourceNotFound"
        assert error["message"] == (
            f"Resource '{object_id}' does not exist or one of its queried "
            "reference-property objects are not present."
        )
    assert missing_job.json()["error"]["innerError"]["client-request-id"] == "c-1"
    assert tenant.job_actions == []


async def test_unknown_actions_and_other_methods_are_refused(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")

    unknown = await act(client, "provisionOnDemand")
    get_start = await client.get(f"{job_path('sp1', 'job1')}/start")
    post_job = await client.post(job_path("sp1", "job1"))

    assert unknown.status_code == 404
    assert get_start.status_code == 405
    assert post_job.status_code == 405
    assert (await read_status(client))["code"] == "Active"


async def test_a_principal_whose_jobs_are_refused_refuses_their_actions(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")
    tenant.refuse_jobs("sp1")

    responses = [await act(client, action) for action in ("start", "pause", "restart")]
    tenant.allow_jobs("sp1")
    allowed = await act(client, "pause")

    for response in responses:
        assert response.status_code == 403
        assert {k: response.json()["error"][k] for k in ("code", "message")} == REFUSED
    assert allowed.status_code == 204
    assert [entry["action"] for entry in tenant.job_actions] == ["pause"]


async def test_post_faults_and_a_refused_source_answer_the_actions(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")
    tenant.add_fault(r".*/jobs/job1/pause", status=200, method="GET")  # never a POST
    tenant.add_fault(r".*/jobs/job1/(start|pause|restart)", status=500, method="post")
    tenant.add_fault(r".*/jobs/job1/restart", status=403, method="POST")

    failed = await act(client, "pause")
    forbidden = await act(client, "restart")
    after_faults = await act(client, "pause")
    tenant.refuse_source("synchronization")
    retired = await act(client, "start")
    tenant.restore_source("synchronization")

    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "InternalServerError"
    assert forbidden.status_code == 403
    assert after_faults.status_code == 204
    assert retired.status_code == 400
    assert retired.json()["error"]["message"] == (
        "Resource not found for the segment 'synchronization'."
    )
    assert [entry["action"] for entry in tenant.job_actions] == ["pause"]
    assert (await read_status(client))["code"] == "Paused"


async def test_control_api_faults_apply_to_actions(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")

    added = await client.post(
        "/_tenant/faults", json={"path": r".*/start", "status": 503, "method": "POST"}
    )
    failed = await act(client, "start")

    assert added.status_code == 201
    assert failed.status_code == 503
    assert tenant.job_actions == []


async def test_every_action_is_logged_with_the_client_request_id(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp1", "job1")
    criteria = {"resetScope": "Watermark, Escrows, QuarantineState"}

    await act(client, "pause", headers={"x-ms-client-request-id": "req-1"})
    await act(client, "restart", {"criteria": criteria}, headers={"client-request-id": "req-2"})
    await act(client, "start")
    log = tenant.job_actions
    log[0]["jobId"] = "tampered"  # a copy
    served = (await client.get("/_tenant/jobActions")).json()["value"]

    assert [(entry["action"], entry["clientRequestId"]) for entry in log] == [
        ("pause", "req-1"),
        ("restart", "req-2"),
        ("start", None),
    ]
    assert served == tenant.job_actions
    assert served[0] == {
        "servicePrincipalId": "sp1",
        "jobId": "job1",
        "action": "pause",
        "criteria": None,
        "clientRequestId": "req-1",
        "time": served[0]["time"],
    }
    assert served[1]["criteria"] == criteria
    assert all(GRAPH_TIMESTAMP.fullmatch(entry["time"]) for entry in served)
    assert [entry["time"] for entry in served] == sorted(entry["time"] for entry in served)

    cleared = await client.delete("/_tenant/jobActions")
    assert cleared.status_code == 204
    assert tenant.job_actions == []
    await act(client, "pause")
    tenant.clear_job_actions()
    assert (await client.get("/_tenant/jobActions")).json() == {"value": []}
