"""The round on Storage Queues, against Azurite's queues and tables and the simulated tenant:
the timer plans one message per enabled tenant, the poll queue's function polls one tenant
per message under a claim (a second message for a tenant being polled is dropped and
counted; a message delivered again takes its own claim over), a throttled poll is put back
with Graph's Retry-After, a failure is kept on the tenant on the last delivery only, and a
poll that recorded changes asks the delivery queue's function to POST them."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue.aio import QueueClient

from shared import composition
from shared.core.time import utc_now
from shared.polling.fanout import MAX_DELIVERIES, poll_from_queue
from shared.storage.queues import QueueDelivery
from shared.tenants.registry import add_tenant, tenant_named
from tests.support.app import App
from tests.support.webhooks import Receiver, subscribe

pytestmark = pytest.mark.usefixtures("simulated_auth")

SCHOOL = "5a5b5c5d-0000-4000-8000-000000000001"
SHOP = "5a5b5c5d-0000-4000-8000-000000000002"
SDS_LIST = "/beta/education/synchronizationProfiles"


@pytest.fixture
async def poll_queue(app: App) -> AsyncIterator[QueueClient]:
    """The poll queue this test's settings name, read straight from Azurite."""
    settings = composition.settings()
    client = QueueClient.from_connection_string(
        settings.storage.connection_string or "", settings.poll_queue
    )
    yield client
    await client.close()


async def register(tenant: Any, tenant_id: str, *, enabled: bool = True) -> None:
    child = tenant.add_tenant(tenant_id)
    child.add_profile("p1")
    settings, store = composition.services()
    body = {"tenantId": tenant_id, "displayName": f"Tenant {tenant_id[:4]}", "enabled": enabled}
    await add_tenant(settings, store, body)


def message(body: dict[str, Any], *, message_id: str, delivery: int = 1) -> QueueMessage:
    return QueueMessage(id=message_id, body=json.dumps(body).encode(), dequeue_count=delivery)


async def run(app: App, function: str, queued: QueueMessage) -> None:
    await app.functions[function].get_user_function()(queued)


async def health_round(app: App) -> dict[str, Any]:
    return (await app.health()).json()["round"]


async def test_a_round_polls_each_enabled_tenant_once(app: App, tenant: Any) -> None:
    tenant.add_profile("home-1")
    await register(tenant, SCHOOL)
    await register(tenant, SHOP, enabled=False)
    await app.poll()
    assert await health_round(app) | {"roundId": ""} == {
        "roundId": "", "tenants": 2, "done": 2, "outcomes": {"polled": 2}, "duplicates": 0,
    }  # fmt: skip
    rows = (await app.statuses()).json()["value"]
    by_tenant = {(row["tenantId"], row["id"]) for row in rows}
    assert by_tenant == {(tenant.tenant_id, "home-1"), (SCHOOL, "p1")}  # not the disabled one


async def test_the_timer_only_plans_spread_messages_base64_json(
    app: App, tenant: Any, poll_queue: QueueClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_SPREAD_SECONDS", "30")
    composition.reload_settings()
    await register(tenant, SCHOOL)
    await register(tenant, SHOP)
    await app.functions["poll_sync_statuses"].get_user_function()(TimerRequest(past_due=False))
    visible = [m async for m in poll_queue.receive_messages(max_messages=32)]
    # The home tenant's at once; the other two hidden over the spread (10 s and 20 s).
    assert len(visible) == 1
    order = json.loads(base64.b64decode(visible[0].content))
    assert order | {"roundId": ""} == {
        "kind": "poll", "tenantId": tenant.tenant_id, "roundId": "", "attempt": 1,
    }  # fmt: skip
    assert (await poll_queue.get_queue_properties()).approximate_message_count == 3
    assert (await app.statuses()).json()["value"] == []  # nothing polled by the timer itself
    await poll_queue.clear_messages()


async def test_a_tenant_being_polled_drops_a_second_message_and_counts_it(
    app: App, tenant: Any
) -> None:
    await register(tenant, SCHOOL)
    _settings, store = composition.services()
    round_id = utc_now()
    await store.rounds.plan(round_id, 1)
    # Another instance's poll of the tenant holds its claim.
    assert await store.rounds.claim(SCHOOL, "other-message", 1, utc_now(), 60) is not None
    body = {"tenantId": SCHOOL, "roundId": round_id}
    await run(app, "poll_tenant_from_queue", message(body, message_id="second"))
    summary = await store.rounds.summary(round_id)
    assert summary is not None and (summary.duplicates, summary.outcomes) == (1, {})
    assert (await app.statuses()).json()["value"] == []  # not polled twice at once


async def test_a_message_delivered_again_takes_its_own_claim_over(app: App, tenant: Any) -> None:
    """The queue delivers a message again only once its lease ran out: the poll that took
    the claim on the earlier delivery died with its instance."""
    await register(tenant, SCHOOL)
    _settings, store = composition.services()
    round_id = utc_now()
    await store.rounds.plan(round_id, 1)
    assert await store.rounds.claim(SCHOOL, "the-message", 1, utc_now(), 60) is not None
    body = {"tenantId": SCHOOL, "roundId": round_id}
    await run(app, "poll_tenant_from_queue", message(body, message_id="the-message", delivery=2))
    summary = await store.rounds.summary(round_id)
    assert summary is not None and summary.outcomes == {"polled": 1}
    assert summary.duplicates == 0
    rows = (await app.statuses()).json()["value"]
    assert [(row["tenantId"], row["id"]) for row in rows] == [(SCHOOL, "p1")]
    # The claim was given back: the next round's message polls at once.
    assert await store.rounds.claim(SCHOOL, "next-round", 1, utc_now(), 60) is not None


async def test_a_throttled_poll_is_put_back_with_graphs_retry_after(
    app: App, tenant: Any, poll_queue: QueueClient
) -> None:
    tenant.add_profile("home-1")
    tenant.add_fault(SDS_LIST, status=429, retry_after=2, times=None)
    _settings, store = composition.services()
    round_id = utc_now()
    await store.rounds.plan(round_id, 1)
    body = {"tenantId": tenant.tenant_id, "roundId": round_id}
    await run(app, "poll_tenant_from_queue", message(body, message_id="throttled"))
    summary = await store.rounds.summary(round_id)
    assert summary is not None and summary.outcomes == {"requeued": 1}
    assert [m async for m in poll_queue.receive_messages()] == []  # hidden, not retried at once
    assert (await poll_queue.get_queue_properties()).approximate_message_count == 1
    await poll_queue.clear_messages()


async def test_a_failure_is_kept_on_the_tenant_on_the_last_delivery_only(
    app: App, tenant: Any
) -> None:
    settings, store = composition.services()
    queues = composition.queues()
    round_id = utc_now()
    body = json.dumps({"tenantId": tenant.tenant_id, "roundId": round_id}).encode()

    def broken(*_: Any) -> Any:
        raise RuntimeError("the tenant's Graph client could not be made")

    for delivery in range(1, MAX_DELIVERIES + 1):
        with pytest.raises(RuntimeError):  # for the queue to try again, or to poison it
            await poll_from_queue(
                settings, store, queues, broken, QueueDelivery("failing", delivery, body)
            )
        home, _ = await tenant_named(settings, store, "home")
        assert (home.pollFailure is not None) == (delivery == MAX_DELIVERIES)
    assert home.pollFailure is not None
    assert (home.pollFailure.code, home.pollFailure.attempts) == ("RuntimeError", MAX_DELIVERIES)
    report = (await app.health()).json()
    assert report["status"] == "unhealthy"
    assert report["pollFailure"]["code"] == "RuntimeError"
    await app.poll()  # the next round polls again, and the failure is over
    home, _ = await tenant_named(settings, store, "home")
    assert home.pollFailure is None
    assert "pollFailure" not in (await app.health()).json()


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_poll_that_recorded_changes_has_the_delivery_queue_post_them(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    await app.poll()
    await subscribe(app, receiver.url)
    tenant.set_status("a", status="error")
    await app.poll()  # the poll message, then the delivery message it asked for
    assert [(e["id"], e["status"]) for e in receiver.events] == [("a", "error")]


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_receiver_being_delivered_to_drops_a_second_delivery_message(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a")
    await app.poll()
    await subscribe(app, receiver.url)
    tenant.set_status("a", status="error")
    _settings, store = composition.services()
    body = {"tenantId": tenant.tenant_id, "roundId": utc_now()}
    await run(app, "poll_tenant_from_queue", message(body, message_id="poll"))  # records only
    (target,) = await store.outbox.targets()
    # Another instance delivers to this receiver: a second message for it is dropped.
    other = await store.rounds.claim(f"delivery|{target}", "other", 1, utc_now(), 60)
    assert other is not None
    order = {"kind": "delivery", "target": target}
    await run(app, "deliver_events_from_queue", message(order, message_id="second"))
    assert receiver.events == []
    await app.drain_queues()  # the delivery the poll asked for: dropped too, while held
    assert receiver.events == []
    await store.rounds.release(f"delivery|{target}", other)
    await run(app, "deliver_events_from_queue", message(order, message_id="third"))
    assert [(e["id"], e["status"]) for e in receiver.events] == [("a", "error")]
