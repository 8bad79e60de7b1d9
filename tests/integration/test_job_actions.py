"""Acting on provisioning jobs (restart, pause, start) over the real handlers, against the
simulated tenant and Azurite: the action reaches Graph with the caller's request id, the job
is read back and cached at once, the action is in the job's history and goes out as one
event of kind ``action``; and every guard rail answers as documented."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared import composition
from tests.support.app import App, Reply
from tests.support.webhooks import Receiver, history, subscribe
from tools import graph_tenant as graph

JOBS = "synchronizationJobs"
SP = "8d4f3b6b-0e1a-4f5c-9b7d-4a5b6c7d8e01"
OTHER_SP = "8d4f3b6b-0e1a-4f5c-9b7d-4a5b6c7d8e02"
REQUEST_ID = "5f7d8a1e-2b3c-4d5e-8f9a-0b1c2d3e4f50"


@pytest.fixture
def actions_on(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", SP)
    monkeypatch.setenv("PROVISIONING_ACTIONS_ENABLED", "true")
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("actions_on")


async def act(
    app: App, action: str, job_id: str, body: Any = None, sp_id: str = SP, **headers: str
) -> Reply:
    return await app.call(
        f"{action}_synchronization_job",
        method="POST",
        route_params={"servicePrincipalId": sp_id, "jobId": job_id},
        headers={"Content-Type": "application/json", **headers},
        body=body,
    )


async def row(app: App, job_id: str) -> dict[str, Any]:
    rows = (await app.statuses(source=JOBS)).json()["value"]
    (found,) = [r for r in rows if r["id"] == f"{SP}:{job_id}"]
    return found


async def test_restarting_a_quarantined_job_lifts_it_at_once_and_says_so_once(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_service_principal(SP, display_name="Canvas LMS")
    job_id = tenant.add_job(SP, template_id="scim", status=graph.quarantined_job_status())
    await app.poll()
    assert (await row(app, job_id))["health"] == "error"
    await subscribe(app, receiver.url)
    body = {"criteria": {"resetScope": "quarantinestate, Escrows"}}
    reply = await act(app, "restart", job_id, body, **{"x-ms-client-request-id": REQUEST_ID})
    assert reply.status == 202, reply.body
    served = reply.json()
    assert served["status"]["code"] == "Active" and served["status"]["quarantine"] is None
    assert served["@odata.context"].endswith("/synchronization/jobs/$entity")
    (sent,) = tenant.job_actions
    assert sent["action"] == "restart" and sent["clientRequestId"] == REQUEST_ID
    assert sent["criteria"] == {"resetScope": "QuarantineState, Escrows"}  # Graph's spelling
    # The cache has the job as Graph has it now, without waiting for a poll.
    after = await row(app, job_id)
    assert (after["status"], after["health"]) == ("Active", "warning")
    changes = (await history(app, JOBS, f"{SP}:{job_id}"))["value"]
    action, change = changes[1], changes[0]  # newest first: the action, then what it did
    assert action["kind"] == "action" and action["status"] == "Quarantine"
    assert action["action"] == {
        "name": "restart",
        "by": "function key",
        "criteria": {"resetScope": "QuarantineState, Escrows"},
        "clientRequestId": REQUEST_ID,
        "graphStatus": 204,
        "graphError": None,
    }
    assert action["reason"] == (
        "Restarted by function key (resetScope: QuarantineState, Escrows); done."
    )
    assert (change["kind"], change["previousHealth"], change["health"]) == (
        "change", "error", "warning",
    )  # fmt: skip
    await app.poll()  # events go out after a poll; nothing new in Graph: nothing more
    kinds = [(e["kind"], e["health"]) for e in receiver.events]
    assert kinds == [("action", "error"), ("change", "warning")]


async def test_pause_and_start_change_the_job_and_statuses(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    composition.reload_settings()
    first = tenant.add_job(SP, template_id="scim")
    second = tenant.add_job(SP, template_id="scim", status=graph.job_status("Paused"))
    await app.poll()
    paused = await act(app, "pause", first, **{"x-ms-client-principal-name": "ada@contoso.com"})
    # (WEBSITE_AUTH_ENABLED is set below: App Service Authentication names the caller.)
    assert paused.status == 202 and paused.json()["status"]["code"] == "Paused"
    started = await act(app, "start", second)
    assert started.status == 202 and started.json()["status"]["code"] == "Active"
    assert ((await row(app, first))["status"], (await row(app, second))["status"]) == (
        "Paused", "Active",
    )  # fmt: skip
    by = (await history(app, JOBS, f"{SP}:{first}"))["value"][1]["action"]["by"]
    assert by == "ada@contoso.com"
    generated = [a["clientRequestId"] for a in tenant.job_actions]
    assert all(len(request_id) == 36 for request_id in generated)  # a new GUID each


async def test_a_job_paused_through_the_app_is_in_maintenance_until_started(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONING_ACTION_COOLDOWN_SECONDS", "1")
    composition.reload_settings()
    job_id = tenant.add_job(SP, template_id="scim")
    await app.poll()
    assert (await act(app, "pause", job_id)).status == 202
    windows = (await app.call("list_maintenance_windows")).json()["value"]
    assert [(w["source"], w["itemId"], w["endDateTime"]) for w in windows] == [
        (JOBS, f"{SP}:{job_id}", "9999-12-31T23:59:59Z"),
    ]  # fmt: skip
    assert windows[0]["reason"] == "Paused through the app by function key."
    await asyncio.sleep(1.1)  # the cooldown
    assert (await act(app, "pause", job_id)).status == 202  # twice: still one window
    assert len((await app.call("list_maintenance_windows")).json()["value"]) == 1
    await asyncio.sleep(1.1)
    started = await act(app, "start", job_id)
    assert started.status == 202, started.body
    assert (await app.call("list_maintenance_windows")).json()["value"] == []


async def test_actions_are_off_by_default_and_say_what_is_missing(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVISIONING_ACTIONS_ENABLED")
    composition.reload_settings()
    job_id = tenant.add_job(SP)
    await app.poll()
    reply = await act(app, "start", job_id)
    assert reply.status == 403
    message = reply.json()["error"]["message"]
    assert "PROVISIONING_ACTIONS_ENABLED" in message and "Synchronization.ReadWrite.All" in message
    assert tenant.job_actions == []


async def test_only_monitored_jobs_can_be_acted_on(app: App, tenant: Any) -> None:
    tenant.add_job(SP, "scim.monitored")
    other = tenant.add_job(OTHER_SP, "scim.elsewhere")  # a principal the app does not poll
    await app.poll()
    for sp_id, job_id in ((SP, "scim.unknown"), (OTHER_SP, other)):
        reply = await act(app, "pause", job_id, sp_id=sp_id)
        assert reply.status == 404, reply.body
    assert (await act(app, "pause", "x", sp_id="not-a-guid")).status == 400
    assert tenant.job_actions == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            {"criteria": {"resetScope": "Watermark, Everything"}},
            "'Everything' is not a reset scope",
        ),
        ({"criteria": {"resetScope": 7}}, "criteria"),
        ({"criteria": {"scope": "Full"}}, "criteria"),
        ({"resetScope": "Full"}, "criteria"),
        ("not json", "not valid JSON"),
    ],
)
async def test_bad_criteria_are_a_400_naming_what_is_wrong(
    app: App, tenant: Any, body: Any, named: str
) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    reply = await act(app, "restart", job_id, body)
    assert reply.status == 400, reply.body
    assert named in reply.json()["error"]["message"]
    assert tenant.job_actions == []


async def test_a_second_action_within_the_cooldown_is_a_429(app: App, tenant: Any) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    assert (await act(app, "pause", job_id)).status == 202
    again = await act(app, "start", job_id)
    assert again.status == 429
    assert 55 <= int(again.headers["Retry-After"]) <= 60
    assert "PROVISIONING_ACTION_COOLDOWN_SECONDS" in again.json()["error"]["message"]
    assert len(tenant.job_actions) == 1


async def test_force_deletes_need_their_own_setting(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    body = {"criteria": {"resetScope": ["Full", "ForceDeletes"]}}  # the connector's list form
    refused = await act(app, "restart", job_id, body)
    assert refused.status == 403
    assert "PROVISIONING_ALLOW_FORCE_DELETES" in refused.json()["error"]["message"]
    monkeypatch.setenv("PROVISIONING_ALLOW_FORCE_DELETES", "true")
    composition.reload_settings()
    assert (await act(app, "restart", job_id, body)).status == 202
    assert tenant.job_actions[0]["criteria"] == {"resetScope": "Full, ForceDeletes"}


@pytest.mark.parametrize(("graph_status", "answer"), [(403, 403), (409, 409), (500, 503)])
async def test_graph_refusing_or_failing_is_passed_on_in_its_shape(
    app: App, tenant: Any, graph_status: int, answer: int
) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    path = f"/v1.0/servicePrincipals/{SP}/synchronization/jobs/{job_id}/pause"
    code = {403: "Authorization_RequestDenied", 409: "Conflict", 500: "InternalServerError"}
    tenant.add_fault(
        path, status=graph_status, method="POST", code=code[graph_status], message="Nope."
    )
    reply = await act(app, "pause", job_id)
    assert reply.status == answer, reply.body
    if answer == 503:  # Graph failed: unavailable, with what Graph said
        assert reply.headers["Retry-After"]
        assert reply.json()["error"] == {
            "code": "ServiceUnavailable",
            "message": "Graph did not do it (500 InternalServerError): Nope.",
        }
    else:  # Graph refused: passed on as it is
        assert reply.json()["error"] == {"code": code[graph_status], "message": "Graph: Nope."}
    (entry,) = [
        c for c in (await history(app, JOBS, f"{SP}:{job_id}"))["value"] if c["kind"] == "action"
    ]
    assert entry["action"]["graphStatus"] == graph_status
    assert entry["action"]["graphError"] == {"code": code[graph_status], "message": "Nope."}
    # A refusal did nothing: the cooldown is given back. A failure may have acted: it stays.
    again = await act(app, "pause", job_id)
    assert again.status == (429 if answer == 503 else 202), again.body


async def test_the_cooldown_survives_a_poll_that_rewrites_the_job(app: App, tenant: Any) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    assert (await act(app, "pause", job_id)).status == 202
    tenant.set_job_status(SP, job_id, countSuccessiveCompleteFailures=1)  # Graph changes it
    await app.poll()
    assert (await act(app, "start", job_id)).status == 429


async def test_actions_off_answer_403_before_looking_at_the_request(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONING_ACTIONS_ENABLED", "false")
    composition.reload_settings()
    reply = await act(app, "restart", "any", "not json", **{"x-ms-client-request-id": " "})
    assert reply.status == 403


async def test_a_principal_header_is_trusted_only_behind_app_service_authentication(
    app: App, tenant: Any
) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    headers = {"x-ms-client-principal-name": "mallory@contoso.com"}
    assert (await act(app, "pause", job_id, **headers)).status == 202
    (entry,) = [
        c for c in (await history(app, JOBS, f"{SP}:{job_id}"))["value"] if c["kind"] == "action"
    ]
    assert entry["action"]["by"] == "function key"


async def test_an_action_whose_job_cannot_be_read_back_is_a_204(app: App, tenant: Any) -> None:
    job_id = tenant.add_job(SP)
    await app.poll()
    tenant.add_fault(f"/v1.0/servicePrincipals/{SP}/synchronization/jobs/{job_id}", status=500)
    reply = await act(app, "pause", job_id)
    assert reply.status == 204
    assert tenant.get_job(SP, job_id)["status"]["code"] == "Paused"
    changes = (await history(app, JOBS, f"{SP}:{job_id}"))["value"]
    assert changes[0]["kind"] == "action" and changes[0]["action"]["graphStatus"] == 204
    assert (await row(app, job_id))["status"] == "Active"  # until the next poll
    await app.poll()
    assert (await row(app, job_id))["status"] == "Paused"


async def test_a_subscription_can_leave_actions_out(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    job_id = tenant.add_job(SP, template_id="scim", status=graph.quarantined_job_status())
    await app.poll()
    await subscribe(app, receiver.url, filter={"kinds": ["change"]})
    body = {"criteria": {"resetScope": "QuarantineState"}}
    assert (await act(app, "restart", job_id, body)).status == 202
    await app.poll()
    assert [(e["kind"], e["health"]) for e in receiver.events] == [("change", "warning")]


@pytest.mark.parametrize(
    ("graph_status", "graph_wait", "told"),
    [(503, 999999999, "180"), (429, 0.2, "1"), (503, 7.5, "8"), (504, None, "30")],
)
async def test_graphs_retry_after_reaches_the_caller_whole_and_capped(
    app: App, tenant: Any, graph_status: int, graph_wait: float | None, told: str
) -> None:
    """Graph's wait is passed on, in whole seconds and never longer than the one cap (it
    once answered Retry-After: 999999999 because Graph said so)."""
    job_id = tenant.add_job(SP)
    await app.poll()
    path = f"/v1.0/servicePrincipals/{SP}/synchronization/jobs/{job_id}/pause"
    tenant.add_fault(path, status=graph_status, method="POST", retry_after=graph_wait)
    reply = await act(app, "pause", job_id)
    assert reply.status == 503, reply.body
    assert reply.headers["Retry-After"] == told


async def test_a_cooldown_longer_than_the_cap_is_told_as_the_cap(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONING_ACTION_COOLDOWN_SECONDS", "86400")
    composition.reload_settings()
    job_id = tenant.add_job(SP)
    await app.poll()
    assert (await act(app, "pause", job_id)).status == 202
    again = await act(app, "start", job_id)
    assert again.status == 429
    assert again.headers["Retry-After"] == "180"  # asked again then, it is told again
    assert "86400" in again.json()["error"]["message"]
