"""Incidents through the real poll, Azurite and a real receiver: a profile that breaks opens
one incident and its receivers that asked for incidents hear "opened", then "resolved" once
it recovers; changes keep going to those that did not ask; incidents are kept per tenant."""

from __future__ import annotations

from typing import Any

import pytest

from shared import composition
from shared.core.tenancy import TenantScope
from tests.support.app import App
from tests.support.webhooks import Receiver, subscribe

pytestmark = pytest.mark.usefixtures("insecure_webhooks")

SDS = "educationSynchronizationProfiles"


@pytest.fixture
def resolve_at_once(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A recovered item resolves its incident at the next review (the damping of a flap is
    shown in tests/unit/test_incidents.py, with simulated time)."""
    monkeypatch.setenv("INCIDENT_RESOLVE_AFTER_MINUTES", "0")
    composition.reload_settings()


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
