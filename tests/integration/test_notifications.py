"""Change history, subscriptions and webhook delivery: the real handlers and timer, Azurite,
the simulated tenant, and a real HTTP receiver standing in for a flow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import composition
from shared.core.changes import StatusChange
from tests.support.app import App
from tests.support.azurite import azurite_proxy
from tests.support.samples import SEED, SEED_ID
from tests.support.webhooks import Receiver, history, subscribe
from tools.processes import free_port

SDS = "educationSynchronizationProfiles"


async def test_history_keeps_every_change_newest_first(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, display_name="Contoso", status=dict(SEED))
    await app.poll()
    tenant.set_status(SEED_ID, status="error", statusMessage="Bad CSV")
    await app.poll()
    await app.poll()  # nothing changed: nothing added
    await app.patch_status(SEED_ID, {"status": "paused"})
    changes = (await history(app, SDS, SEED_ID))["value"]
    assert [(c["previousStatus"], c["status"]) for c in changes] == [
        ("error", "paused"),
        ("inProgress", "error"),
        (None, "inProgress"),
    ]
    assert [(c["previousHealth"], c["health"]) for c in changes] == [
        ("error", "warning"),
        ("healthy", "error"),
        (None, "healthy"),
    ]
    assert changes[1]["reason"] == "Sync failed: Bad CSV."
    assert changes[0]["reason"].startswith("Changed through the API.")
    assert changes[1]["displayName"] == "Contoso"
    assert changes[1]["path"] == f"/api/education/synchronizationProfiles/{SEED_ID}/profileStatus"
    first = await history(app, SDS, SEED_ID, **{"$top": "2"})
    assert [c["status"] for c in first["value"]] == ["paused", "error"]
    token = first["@odata.nextLink"].partition("%24skiptoken=")[2].partition("&")[0]
    rest = await history(app, SDS, SEED_ID, **{"$top": "2", "$skiptoken": token})
    assert [c["status"] for c in rest["value"]] == ["inProgress"]
    assert (await history(app, SDS, "never-seen"))["value"] == []
    bad = await app.call("get_status_history", route_params={"source": "nope", "id": "x"})
    assert bad.status == 400


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_subscriber_gets_exactly_one_event_per_change(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile(SEED_ID, display_name="Contoso", status=dict(SEED))
    subscription = await subscribe(app, receiver.url)
    await app.poll()
    assert receiver.events == []  # the first poll sees the whole tenant: history only
    tenant.set_status(SEED_ID, status="quarantined", statusMessage="Too many errors")
    await app.poll()
    await app.poll()
    (event,) = receiver.events
    assert event["subscriptionId"] == subscription["id"]
    assert {k: event[k] for k in ("source", "id", "previousStatus", "status")} == {
        "source": SDS,
        "id": SEED_ID,
        "previousStatus": "inProgress",
        "status": "quarantined",
    }
    assert (event["previousHealth"], event["health"]) == ("healthy", "error")
    assert event["reason"] == "Quarantined: Too many errors."
    assert event["eventId"]


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_filter_picks_the_changes_a_subscriber_wants(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    tenant.add_profile("b")
    await subscribe(app, receiver.url, filter={"health": ["error"], "ids": ["a", "b"]})
    await app.poll()
    tenant.set_status("a", status="paused")  # warning: not wanted
    tenant.set_status("b", status="error")
    await app.poll()
    assert [(e["id"], e["health"]) for e in receiver.events] == [("b", "error")]


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_failing_receiver_gets_the_event_later_and_only_once(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    await subscribe(app, receiver.url)
    await app.poll()
    tenant.set_status("a", status="error")
    receiver.answers = [500, 429, 503]  # every try of this round fails: the event waits
    await app.poll()
    assert receiver.events == []
    tenant.set_status("a", status="success")
    await app.poll()  # the waiting event first, then the new one, in order
    assert [e["status"] for e in receiver.events] == ["error", "success"]
    await app.poll()
    assert len(receiver.events) == 2


@pytest.mark.usefixtures("insecure_webhooks")
async def test_an_unreachable_receiver_never_fails_the_poll(app: App, tenant: Any) -> None:
    tenant.add_profile("a")
    await subscribe(app, f"http://127.0.0.1:{free_port()}/nobody-listens")
    await app.poll()
    tenant.set_status("a", status="error")
    await app.poll()  # raises nothing
    health = (await app.health()).json()
    assert health["sources"][0]["lastPoll"]["outcome"] == "succeeded"
    assert (await app.call("list_statuses")).json()["value"][0]["health"] == "error"


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_receiver_that_is_gone_disables_its_subscription(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    subscription = await subscribe(app, receiver.url)
    await app.poll()
    tenant.set_status("a", status="error")
    receiver.answers = [410, 410, 410]
    await app.poll()
    reply = await app.call("get_subscription", route_params={"id": subscription["id"]})
    assert reply.json()["status"] == "disabled"
    assert "410" in reply.json()["disabledReason"]
    tenant.set_status("a", status="success")
    await app.poll()
    assert receiver.events == []


async def test_static_webhook_urls_get_every_change(
    app: App, tenant: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")
    monkeypatch.setenv("NOTIFY_WEBHOOK_URLS", receiver.url)
    composition.reload_settings()
    tenant.add_profile("a")
    await app.poll()
    tenant.set_status("a", status="paused")
    await app.poll()
    (event,) = receiver.events
    assert (event["status"], event["subscriptionId"]) == ("paused", None)


async def test_subscriptions_can_be_listed_read_and_deleted(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")
    composition.reload_settings()
    first = await subscribe(app, "http://127.0.0.1:9/one", filter={"sources": [SDS]})
    second = await subscribe(app, "http://127.0.0.1:9/two")
    listed = (await app.call("list_subscriptions")).json()["value"]
    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    assert listed[0]["filter"] == {
        "health": None,
        "sources": [SDS],
        "ids": None,
        "kinds": None,
        "notices": None,
    }
    route = {"id": first["id"]}
    assert (await app.call("get_subscription", route_params=route)).json() == first
    deleted = await app.call("delete_subscription", method="DELETE", route_params=route)
    assert (deleted.status, deleted.body) == (204, b"")
    again = await app.call("delete_subscription", method="DELETE", route_params=route)
    assert again.status == 404
    assert (await app.call("get_subscription", route_params=route)).status == 404


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"notificationUrl": "http://example.com/hook"}, "notificationUrl"),
        ({"notificationUrl": "https://127.0.0.1/hook"}, "notificationUrl"),
        ({"notificationUrl": "https://10.1.2.3/hook"}, "notificationUrl"),
        ({"notificationUrl": "https://169.254.169.254/latest"}, "notificationUrl"),
        ({"notificationUrl": "https://[::1]/hook"}, "notificationUrl"),
        ({"notificationUrl": "https://localhost/hook"}, "notificationUrl"),
        ({"notificationUrl": "https://user:pw@example.com/hook"}, "notificationUrl"),
        ({"notificationUrl": "https://example.com", "extra": 1}, "extra"),
        (
            {"notificationUrl": "https://example.com", "filter": {"health": ["bad"]}},
            "filter.health.0",
        ),
        ({}, "notificationUrl"),
    ],
)
async def test_bad_subscriptions_are_400(app: App, body: dict[str, Any], target: str) -> None:
    reply = await app.call("create_subscription", method="POST", body=body)
    assert reply.status == 400, reply.body
    error = reply.json()["error"]
    assert error["code"] == "BadRequest"
    assert error.get("target") == target


async def test_history_older_than_the_retention_is_pruned(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISTORY_RETENTION_DAYS", "30")
    composition.reload_settings()
    old = (datetime.now(UTC) - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    ancient = StatusChange(
        source=SDS, id="a", previousStatus=None, status="success", health="healthy",
        changedDateTime=old, path="/api/education/synchronizationProfiles/a/profileStatus",
    )  # fmt: skip
    await composition.services()[1].history.record([ancient], ["e-old"])
    tenant.add_profile("a", status={**SEED, "id": "a", "status": "paused"})
    await app.poll()
    changes = (await history(app, SDS, "a"))["value"]
    assert [c["status"] for c in changes] == ["paused"]
    assert json.dumps(changes)  # plain JSON


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_change_that_could_not_be_recorded_is_sent_at_the_next_poll_once(
    app: App,
    tenant: Any,
    receiver: Receiver,
    azurite: Any,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant.add_profile("a")
    await subscribe(app, receiver.url)
    await app.poll()
    tenant.set_status("a", status="error")

    def history_writes(path: str, body: bytes) -> bool:
        return path.endswith("/$batch") and b"History" in body

    async with azurite_proxy(azurite, history_writes) as throttled_history:
        monkeypatch.setenv("AzureWebJobsStorage", throttled_history)
        composition.reload_settings()
        await app.poll()  # the status lands; its history and event cannot be written
        health = (await app.health()).json()["sources"][0]["lastPoll"]
        assert {"code": "historyNotRecorded", "count": 1} in health["errors"]
    assert receiver.events == []
    monkeypatch.setenv("AzureWebJobsStorage", app_settings["AzureWebJobsStorage"])
    composition.reload_settings()
    assert (await app.call("list_statuses")).json()["value"][0]["status"] == "error"
    await app.poll()  # Graph did not change again, yet the kept change is recorded now
    await app.poll()
    assert [(e["previousStatus"], e["status"]) for e in receiver.events] == [("success", "error")]
    changes = (await history(app, SDS, "a"))["value"]
    assert [c["status"] for c in changes] == ["error", "success"]
