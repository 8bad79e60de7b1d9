"""Grouping through the real poll, Azurite and a real receiver: the notices one tenant's poll
made come as one message to a subscription that asked for ``groupIncidents`` (JSON or a Teams
card), one each to one that did not; a notice made by hand is never grouped."""

from __future__ import annotations

from typing import Any

import pytest

from shared import composition
from tests.support.adaptive_cards import assert_valid_card
from tests.support.app import App
from tests.support.webhooks import Receiver, subscribe

pytestmark = pytest.mark.usefixtures("insecure_webhooks")


@pytest.mark.usefixtures("resolve_at_once")
async def test_the_notices_of_one_poll_come_as_one_message_to_who_asked(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    for profile in "abc":
        tenant.add_profile(profile, display_name=f"Profile {profile}")
    await app.poll()
    incidents = {"kinds": ["incident"]}
    await subscribe(app, receiver.url + "&to=grouped", filter=incidents, groupIncidents=True)
    await subscribe(app, receiver.url + "&to=each", filter=incidents)
    await subscribe(app, receiver.url + "&to=card", filter=incidents, groupIncidents=True,
                    format="teamsAdaptiveCard")  # fmt: skip
    for profile in "abc":
        tenant.set_status(profile, status="error")
    await app.poll()  # three incidents open in one poll
    tenant.set_status("a", status="success")
    await app.poll()  # one resolves: a group of one is the notice itself

    [group, single] = receiver.sent_to("grouped")
    assert group["kind"] == "incidentGroup"
    assert sorted((n["event"], n["incident"]["itemId"]) for n in group["notices"]) == [
        ("opened", "a"), ("opened", "b"), ("opened", "c"),
    ]  # fmt: skip
    assert {n["reviewId"] for n in group["notices"]} == {group["reviewId"]}
    assert (single["kind"], single["event"], single["incident"]["itemId"]) == (
        "incident", "resolved", "a",
    )  # fmt: skip
    each = receiver.sent_to("each")
    assert [(e["kind"], e["event"]) for e in each] == [("incident", "opened")] * 3 + [
        ("incident", "resolved")
    ]
    assert [n["eventId"] for n in group["notices"]] == [e["eventId"] for e in each[:3]]

    [card_message, resolved_card] = receiver.sent_to("card")
    card = assert_valid_card(card_message)
    assert card["body"][0]["text"] == "Incidents in home tenant: 3 opened"
    sections = [element for element in card["body"] if element["type"] == "Container"]
    assert sorted(s["items"][0]["text"] for s in sections) == [
        "Opened: Profile a", "Opened: Profile b", "Opened: Profile c",
    ]  # fmt: skip
    buttons = [s["items"][-1]["actions"] for s in sections]
    assert all(
        [b["title"] for b in pair] == ["Open on the board", "Acknowledge"] for pair in buttons
    )
    assert assert_valid_card(resolved_card)["body"][0]["text"] == "Resolved: Profile a"


@pytest.mark.usefixtures("resolve_at_once")
async def test_a_notice_made_by_hand_is_sent_alone(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    for profile in "ab":
        tenant.add_profile(profile)
    await app.poll()
    await subscribe(app, receiver.url + "&to=grouped", filter={"kinds": ["incident"]},
                    groupIncidents=True)  # fmt: skip
    for profile in "ab":
        tenant.set_status(profile, status="error")
    await app.poll()
    _settings, store = composition.services()
    for incident, _etag in await store.incidents.unresolved():
        reply = await app.call(
            "resolve_incident", method="POST", route_params={"id": incident.id},
            body={"note": "fixed the SIS export", "by": "ops"},
        )  # fmt: skip
        assert reply.status == 200, reply.body
    await app.poll()
    sent = receiver.sent_to("grouped")
    assert [e["kind"] for e in sent] == ["incidentGroup", "incident", "incident"]
    assert [e["event"] for e in sent[1:]] == ["resolved", "resolved"]
    assert all(e["reviewId"] is None for e in sent[1:])
