"""The teamsAdaptiveCard format through the real poll, Azurite and a real receiver: a
subscription made for a Teams Workflows webhook keeps its format and receives, for an
incident that opens and resolves, one Adaptive Card message per notice (valid against the
official schema, with links to the board from the public base URL), while a JSON
subscription beside it still receives the events themselves."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from tests.support.adaptive_cards import assert_valid_card
from tests.support.app import App
from tests.support.webhooks import Receiver, subscribe

pytestmark = pytest.mark.usefixtures("insecure_webhooks")

SDS = "educationSynchronizationProfiles"


@pytest.mark.usefixtures("resolve_at_once")
async def test_a_teams_subscription_receives_a_card_per_incident_notice(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_profile("a", display_name="Contoso SDS")
    await app.poll()
    made = await subscribe(
        app, receiver.url + "&to=teams", filter={"kinds": ["incident"]}, format="teamsAdaptiveCard"
    )
    assert made["format"] == "teamsAdaptiveCard"
    kept = await app.call("get_subscription", route_params={"id": made["id"]})
    assert kept.json()["format"] == "teamsAdaptiveCard"  # stored, not only answered
    await subscribe(app, receiver.url + "&to=json", filter={"kinds": ["incident"]})
    tenant.set_status("a", status="error")
    await app.poll()
    await app.poll()  # still broken: no second notice
    tenant.set_status("a", status="success")
    await app.poll()
    await app.poll()

    cards = [assert_valid_card(e) for e in receiver.events if e.get("type") == "message"]
    events = [e for e in receiver.events if e.get("kind") == "incident"]
    assert [e["event"] for e in events] == ["opened", "resolved"]  # JSON as before
    name = events[0]["incident"]["displayName"]
    assert name == "Contoso SDS"  # the profile's name, read from its listing's part
    assert [(c["body"][0]["text"], c["body"][0]["color"]) for c in cards] == [
        (f"Opened: {name}", "attention"), (f"Resolved: {name}", "good"),
    ]  # fmt: skip
    opened, resolved = cards
    facts = {fact["title"]: fact["value"] for fact in opened["body"][1]["facts"]}
    assert (facts["Tenant"], facts["Source"], facts["Item"], facts["State"]) == (
        "home tenant", SDS, "a", "open",
    )  # fmt: skip
    assert opened["body"][2]["text"] == events[0]["incident"]["reason"]
    board = urlsplit(opened["actions"][0]["url"])
    assert (board.scheme, board.netloc, board.path) == ("http", "localhost:7071", "/api/board/item")
    assert parse_qs(board.query) == {"source": [SDS], "id": ["a"]}  # the home tenant: no tenantId
    acknowledge = urlsplit(opened["actions"][1]["url"])
    assert (acknowledge.path, acknowledge.fragment) == ("/api/board/incident", "acknowledge")
    assert parse_qs(acknowledge.query) == {"id": [events[0]["incident"]["id"]]}
    assert [action["title"] for action in resolved["actions"]] == ["Open on the board"]
    # The button opens the item's page (for a key holder here: the card carries no key).
    page = await app.call(
        "board_item", params={**dict(parse_qsl(board.query)), "code": "board-key"}
    )
    assert page.status == 200, page.body
    # And Acknowledge opens the incident's page, its form marked as the link's anchor.
    page = await app.call(
        "board_incident", params={**dict(parse_qsl(acknowledge.query)), "code": "board-key"}
    )
    assert page.status == 200, page.body
    assert b'id="acknowledge"' in page.body
