"""Incidents through the real poll, Azurite and a real receiver: a profile that breaks opens
one incident and its receivers that asked for incidents hear "opened", then "resolved" once
it recovers; changes keep going to those that did not ask; incidents are kept per tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import composition
from shared.core.tenancy import TenantScope
from shared.core.time import graph_timestamp
from tests.support.app import App
from tests.support.webhooks import Receiver, subscribe

pytestmark = pytest.mark.usefixtures("insecure_webhooks")

SDS = "educationSynchronizationProfiles"


def notices(receiver: Receiver) -> list[tuple[str, str, str]]:
    return [
        (e["event"], e["incident"]["itemId"], e["incident"]["state"])
        for e in receiver.events
        if e.get("kind") == "incident"
    ]


@pytest.mark.usefixtures("resolve_at_once")
async def test_a_broken_profile_opens_one_incident_and_its_recovery_resolves_it(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    tenant.add_profile("b")
    await app.poll()
    await subscribe(app, receiver.url + "/incidents", filter={"kinds": ["incident"]})
    await subscribe(app, receiver.url + "/changes")
    tenant.set_status("a", status="error")
    await app.poll()
    await app.poll()  # still broken: no second incident, no second notice
    tenant.set_status("a", status="success")
    await app.poll()
    await app.poll()
    incidents = [e for e in receiver.events if e.get("kind") == "incident"]
    assert notices(receiver) == [("opened", "a", "open"), ("resolved", "a", "resolved")]
    assert {e["subscriptionId"] for e in incidents} == {incidents[0]["subscriptionId"]}
    changes = [e for e in receiver.events if e.get("kind") != "incident"]
    assert [(c["previousStatus"], c["status"]) for c in changes] == [
        ("success", "error"), ("error", "success"),
    ]  # fmt: skip
    opened, resolved = incidents
    assert opened["eventId"] != resolved["eventId"]
    assert resolved["incident"]["id"] == opened["incident"]["id"]
    assert opened["incident"]["path"] == changes[0]["path"]  # where the API serves the item
    assert [entry["kind"] for entry in resolved["incident"]["timeline"]] == [
        "opened", "resolved",
    ]  # fmt: skip


async def test_incidents_are_kept_with_their_timeline_per_tenant(app: App, tenant: Any) -> None:
    tenant.add_profile("a", status={"id": "a", "status": "error", "errorCount": 1})
    await app.poll()  # the first read: history only, but the item is broken
    _settings, store = composition.services()
    (incident, _etag) = (await store.incidents.unresolved())[0]
    assert (incident.source, incident.itemId, incident.state) == (SDS, "a", "open")
    assert incident.health == "error"
    other = store.for_tenant(TenantScope(tenant_id="5a5b5c5d-0000-4000-8000-00000000000f"))
    assert await other.incidents.unresolved() == []


async def broken_profile(app: App, tenant: Any) -> dict[str, Any]:
    """A profile that broke after its first poll, with its incident open."""
    tenant.add_profile("a")
    await app.poll()
    tenant.set_status("a", status="error")
    await app.poll()
    listed = (await app.call("list_incidents", params={"state": "open"})).json()["value"]
    assert [(i["itemId"], i["state"], i["health"]) for i in listed] == [("a", "open", "error")]
    return listed[0]


async def act(app: App, act: str, incident_id: str, body: Any = None) -> Any:
    return await app.call(
        f"{act}_incident", method="POST", route_params={"id": incident_id},
        body=body, headers={"Content-Type": "application/json"},
    )  # fmt: skip


async def test_an_incident_is_acknowledged_snoozed_and_resolved_through_the_api(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    await subscribe(app, receiver.url, filter={"kinds": ["incident"]})
    incident = await broken_profile(app, tenant)
    reply = await act(app, "acknowledge", incident["id"], {"note": "On it", "by": "Ada"})
    assert reply.status == 200, reply.body
    assert reply.json()["state"] == "acknowledged"
    assert reply.json()["acknowledgedBy"] == "Ada (function key)"
    snoozed = (await act(app, "snooze", incident["id"], {"minutes": 90})).json()
    assert snoozed["snoozedUntil"] > snoozed["updatedDateTime"]
    await app.poll()  # still broken: acknowledged, it stays so
    one = await app.call("get_incident", route_params={"id": incident["id"]})
    assert one.status == 200 and one.json()["state"] == "acknowledged"
    resolved = (await act(app, "resolve", incident["id"], {"note": "Fixed the CSV"})).json()
    assert (resolved["state"], resolved["resolvedBy"]) == ("resolved", "function key")
    kinds = [entry["kind"] for entry in resolved["timeline"]]
    assert kinds == ["opened", "acknowledged", "snoozed", "resolved"]
    await app.poll()  # the same problem, resolved by hand, does not open again
    assert (await app.call("list_incidents", params={"state": "open"})).json()["value"] == []
    assert notices(receiver) == [("opened", "a", "open"), ("resolved", "a", "resolved")]
    again = await act(app, "acknowledge", incident["id"])
    assert again.status == 409 and again.json()["error"]["code"] == "Conflict"


async def test_incident_routes_refuse_what_they_cannot_use(app: App, tenant: Any) -> None:
    incident = await broken_profile(app, tenant)
    missing = await app.call("get_incident", route_params={"id": "no-such-incident"})
    assert missing.status == 404
    bad_state = await app.call("list_incidents", params={"state": "closed"})
    assert bad_state.status == 400 and "state" in bad_state.json()["error"]["message"]
    too_long = await act(app, "snooze", incident["id"], {"minutes": 10**6})
    assert too_long.status == 400
    unknown = await act(app, "acknowledge", incident["id"], {"who": "x"})
    assert unknown.status == 400


@pytest.mark.usefixtures("simulated_auth")
async def test_a_tenants_routes_see_its_incidents(app: App, tenant: Any) -> None:
    incident = await broken_profile(app, tenant)
    made = await app.call("create_tenant_key", method="POST", route_params={"tenantId": "home"},
                          headers={"Content-Type": "application/json"}, body={"name": "flow"})  # fmt: skip
    key = {"x-functions-key": made.json()["key"]}
    scoped = await app.call("tenant_list_incidents", route_params={"tenantId": "home"}, headers=key)
    assert scoped.status == 200, scoped.body
    assert [i["id"] for i in scoped.json()["value"]] == [incident["id"]]
    named = await app.call("list_incidents", params={"tenantId": "home"})
    assert [i["id"] for i in named.json()["value"]] == [incident["id"]]
    acked = await app.call(
        "tenant_acknowledge_incident", method="POST", headers=key,
        route_params={"tenantId": "home", "id": incident["id"]},
    )  # fmt: skip
    assert acked.status == 200 and acked.json()["state"] == "acknowledged"


async def test_in_a_maintenance_window_nothing_notifies_and_after_it_the_problem_does(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    await subscribe(app, receiver.url, filter={"kinds": ["incident"]})
    tenant.add_profile("a")
    await app.poll()
    end = graph_timestamp(datetime.now(UTC) + timedelta(days=2))
    body = {"source": SDS, "itemId": "a", "endDateTime": end, "reason": "Moving to the new SIS"}
    made = await app.call("create_maintenance_window", method="POST", body=body,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert made.status == 201, made.body
    window = made.json()
    assert made.headers["Location"].endswith(f"/api/maintenanceWindows/{window['id']}")
    tenant.set_status("a", status="error")
    await app.poll()
    await app.poll()
    listed = (await app.call("list_incidents")).json()["value"]
    assert [i["state"] for i in listed] == ["open"]  # it opened, quietly
    assert notices(receiver) == []
    gone = await app.call("delete_maintenance_window", method="DELETE",
                          route_params={"id": window["id"]})  # fmt: skip
    assert gone.status == 204
    await app.poll()  # the window is over, the profile still broken: announced now
    assert notices(receiver) == [("opened", "a", "open")]


async def test_a_maintenance_window_is_checked(app: App, tenant: Any) -> None:
    async def post(body: dict[str, Any]) -> int:
        reply = await app.call("create_maintenance_window", method="POST", body=body,
                               headers={"Content-Type": "application/json"})  # fmt: skip
        return reply.status

    end = "2099-01-01T00:00:00Z"
    assert await post({"endDateTime": end, "reason": "x", "source": "nope"}) == 400
    assert await post({"endDateTime": end, "reason": "x", "itemId": "a"}) == 400
    assert await post({"endDateTime": "2020-01-01T00:00:00Z", "reason": "x"}) == 400
    assert await post({"endDateTime": end, "reason": "x"}) == 400  # longer than 90 days
    missing = await app.call("get_maintenance_window", route_params={"id": "nope"})
    assert missing.status == 404


@pytest.mark.usefixtures("resolve_at_once")
async def test_the_incident_trigger_subscribes_to_incidents_and_the_notices_asked_for(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    await app.poll()
    made = []
    for name, narrowed in (("all", None), ("resolved", {"notices": ["resolved"]})):
        body: dict[str, Any] = {"notificationUrl": f"{receiver.url}&to={name}"}
        if narrowed:
            body["filter"] = narrowed
        reply = await app.call("create_incident_subscription", method="POST", body=body)
        assert reply.status == 201, reply.body
        made.append(reply.json())
        # Power Automate turns the flow off by DELETE on the Location: a subscription's.
        assert reply.headers["Location"].endswith(f"/api/subscriptions/{made[-1]['id']}")
    assert made[0]["filter"]["kinds"] == ["incident"]
    narrowed_filter = {k: v for k, v in made[1]["filter"].items() if v is not None}
    assert narrowed_filter == {"kinds": ["incident"], "notices": ["resolved"]}
    refused = await app.call(
        "create_incident_subscription", method="POST",
        body={"notificationUrl": receiver.url, "filter": {"kinds": ["change"]}},
    )  # fmt: skip
    assert refused.status == 400 and "kinds" in refused.body.decode()
    tenant.set_status("a", status="error")
    await app.poll()
    tenant.set_status("a", status="success")
    await app.poll()
    assert [e["event"] for e in receiver.sent_to("all")] == ["opened", "resolved"]
    assert [e["event"] for e in receiver.sent_to("resolved")] == ["resolved"]
    assert all(e["kind"] == "incident" for e in receiver.events)  # no changes
