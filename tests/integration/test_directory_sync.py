"""Entra Connect freshness (``directorySynchronization``): the organization polled from the
simulated tenant into Azurite, served in Graph's shape, and judged at each poll, so a sync
that stops coming turns to error although Graph keeps sending the same document."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import composition
from tests.support.app import App
from tests.support.webhooks import Receiver, history, subscribe

SOURCE = "directorySynchronization"


@pytest.fixture
def directory_sync(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRECTORY_SYNC_ENABLED", "true")
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "false")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("directory_sync")


def graph_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def organization_row(app: App) -> dict[str, Any]:
    reply = await app.statuses(source=SOURCE)
    assert reply.status == 200, reply.body
    (row,) = reply.json()["value"]
    return row


async def test_the_organization_is_served_as_graph_sent_it(app: App, tenant: Any) -> None:
    tenant.make_directory_sync_stale(minutes_ago=12)
    await app.poll()
    reply = await app.call("list_organization")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["@odata.context"].endswith("/beta/$metadata#organization")  # where it was read
    (served,) = body["value"]
    sent = tenant.organization
    fields = (
        "id", "displayName", "onPremisesSyncEnabled", "onPremisesLastSyncDateTime",
        "onPremisesLastPasswordSyncDateTime",
    )  # fmt: skip
    assert served == {name: sent[name] for name in fields}  # what the poll $selected
    one = await app.call("get_organization", route_params={"id": sent["id"]})
    assert one.status == 200 and one.json()["id"] == sent["id"]
    assert (await app.call("get_organization", route_params={"id": "nope"})).status == 404
    row = await organization_row(app)
    assert (row["health"], row["status"]) == ("healthy", "syncEnabled")
    assert row["reason"] == "Last directory sync 12 min ago (expected every 30 min)."
    assert row["path"] == f"/api/organization/{sent['id']}"


async def test_the_last_password_hash_sync_is_read_from_beta_and_a_stale_one_warns(
    app: App, tenant: Any
) -> None:
    # v1.0's organization has no onPremisesLastPasswordSyncDateTime: Graph (and the tenant)
    # refuse a v1.0 $select of it with a 400, so the poll asks beta, which has every field.
    now = datetime.now(UTC)
    tenant.set_organization(
        onPremisesSyncEnabled=True,
        onPremisesLastSyncDateTime=graph_seconds(now - timedelta(minutes=10)),
        onPremisesLastPasswordSyncDateTime=graph_seconds(now - timedelta(hours=5)),
    )
    await app.poll()
    (asked,) = [r for r in tenant.requests if r.path.endswith("/organization")]
    assert asked.path == "/beta/organization"
    assert "onPremisesLastPasswordSyncDateTime" in asked.query["$select"].split(",")
    row = await organization_row(app)
    assert (row["health"], row["status"]) == ("warning", "syncEnabled")
    assert row["reason"] == (
        "Last directory sync 10 min ago (expected every 30 min), but the last password hash "
        "sync was 5 h ago."
    )
    (served,) = (await app.call("list_organization")).json()["value"]
    sent = tenant.organization["onPremisesLastPasswordSyncDateTime"]
    assert served["onPremisesLastPasswordSyncDateTime"] == sent
    (entry,) = [s for s in (await app.health()).json()["sources"] if s["source"] == SOURCE]
    assert entry["lastPoll"]["outcome"] == "succeeded"


async def test_a_cloud_only_tenant_is_shown_once_never_as_an_error(app: App, tenant: Any) -> None:
    assert tenant.organization["onPremisesSyncEnabled"] is None
    for _ in range(3):
        await app.poll()
    row = await organization_row(app)
    assert (row["health"], row["status"]) == ("healthy", "cloudOnly")
    assert row["reason"].startswith("Cloud-only tenant")
    changes = (await history(app, SOURCE, row["id"]))["value"]
    assert [(c["previousHealth"], c["health"]) for c in changes] == [(None, "healthy")]
    assert (await app.health()).status == 200


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_sync_that_stops_turns_to_error_with_time_alone_and_says_so_once(
    app: App, tenant: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRECTORY_SYNC_STALE_AFTER_MINUTES", "1")
    composition.reload_settings()
    # Synced 56 s ago; the bound is 1 min: healthy now, stale a few seconds later.
    last = graph_seconds(datetime.now(UTC) - timedelta(seconds=56))
    tenant.set_organization(
        onPremisesSyncEnabled=True,
        onPremisesLastSyncDateTime=last,
        onPremisesLastPasswordSyncDateTime=last,
    )
    await subscribe(app, receiver.url)
    await app.poll()
    assert (await organization_row(app))["health"] == "healthy"
    await asyncio.sleep(5)
    tenant.clear_requests()
    await app.poll()  # Graph sends the very same document
    await app.poll()  # still stale: no second event
    row = await organization_row(app)
    assert row["health"] == "error"
    assert row["reason"].startswith("Last directory sync 1 min ago (expected every 30 min)")
    assert [(e["previousHealth"], e["health"]) for e in receiver.events] == [("healthy", "error")]
    changes = (await history(app, SOURCE, row["id"]))["value"]
    assert [(c["previousHealth"], c["health"]) for c in changes] == [
        ("healthy", "error"),
        (None, "healthy"),
    ]
    health = await app.health()
    assert health.status == 200  # the poll itself is fine: the item says Connect is not
