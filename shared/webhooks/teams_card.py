"""The ``teamsAdaptiveCard`` format: what a subscription made for a Teams Workflows webhook
("When a Teams webhook request is received"; Office 365 connectors are retired) is POSTed
instead of the event's JSON: a message with one Adaptive Card 1.4, under Teams' 28 KB.

One card per event, or per group (a subscription with ``groupIncidents``: the notices of one
tenant's poll, each in a section of its own with its buttons). An incident's notice (opened,
reminder, resolved) says whose tenant, what broke, since when and why: the item's reason,
which for a provisioning job names the top provisioning error of the last 24 hours. A change
or an action gets a smaller card (what changed, from which health to which, why), so that a
flow made for cards never receives a body it cannot post.

Buttons are ``Action.OpenUrl`` (a webhook's card cannot submit): "Open on the board" (the
board's item page) and, while the incident is not resolved, "Acknowledge", which opens the
board's incident page (its confirmation form: the acknowledgement is a POST there). Links are
absolute, made from the app's public base URL only (PUBLIC_BASE_URL or WEBSITE_HOSTNAME,
never a request's Host), and never carry a key: with BOARD_SIGN_IN_ENABLED the board signs
in whoever opens them (with function keys, one must add one's own ``code``). Without a
public base URL a card has no buttons (a card's URLs cannot be relative).

Texts are shown as they are, except control characters (dropped) and a markdown link's
``](`` (a space is put in it, so an item's name cannot show as a link to elsewhere); long
ones are cut with an ellipsis. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from shared.core.changes import ChangeEvent
from shared.core.incidents import Incident, IncidentEvent, IncidentGroupEvent
from shared.core.tenancy import HOME_ALIAS
from shared.core.time import parse_timestamp

# Teams refuses a message over 28 KB; the serialized body stays under this many bytes.
MAX_BYTES = 28_000
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
BOARD_ITEM_ROUTE = "/api/board/item"  # the board's item page
BOARD_INCIDENT_ROUTE = "/api/board/incident"  # the board's incident page, with its forms
ACKNOWLEDGE_ANCHOR = "acknowledge"  # the id of that page's acknowledge form
# The longest texts shown (characters); a reason is cut shorter when the card is still too big.
MAX_NAME = 200
MAX_FACT = 300
MAX_REASON = 2_000
# A group's card lists this many notices at most (then says how many more), each reason cut
# to GROUP_REASON characters at first.
MAX_GROUP_LISTED = 20
GROUP_REASON = 300

_TITLES = {"opened": "Opened", "reminder": "Still unhealthy", "resolved": "Resolved"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


Event = ChangeEvent | IncidentEvent | IncidentGroupEvent


def card_body(event: Event, public_base_url: str | None) -> bytes:
    """The JSON body POSTed for ``event`` (UTF-8), always under MAX_BYTES."""
    limit = GROUP_REASON if isinstance(event, IncidentGroupEvent) else MAX_REASON
    while True:
        body = json.dumps(card_message(event, public_base_url, max_reason=limit),
                          ensure_ascii=False, separators=(",", ":")).encode()  # fmt: skip
        if len(body) < MAX_BYTES or limit <= 0:
            return body
        limit //= 2  # names and facts are short already: the reason gives way


def card_message(
    event: Event, public_base_url: str | None, *, max_reason: int = MAX_REASON
) -> dict[str, Any]:
    """The Teams Workflows webhook message carrying the event's card."""
    if isinstance(event, IncidentGroupEvent):
        card = _group_card(event, public_base_url, max_reason)
    elif isinstance(event, IncidentEvent):
        card = _incident_card(event, public_base_url, max_reason)
    else:
        card = _change_card(event, public_base_url, max_reason)
    attachment = {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _incident_card(event: IncidentEvent, base: str | None, max_reason: int) -> dict[str, Any]:
    incident = event.incident
    name = incident.displayName or incident.itemId
    resolved = event.event == "resolved"
    color = "good" if resolved else "warning" if incident.health == "warning" else "attention"
    health = str(incident.currentHealth)
    if incident.health != incident.currentHealth:
        health = f"{incident.currentHealth} (at worst {incident.health})"
    facts = [
        ("Tenant", _tenant(incident.tenantId)),
        ("Source", incident.source),
        ("Item", incident.itemId),
        ("Health", health),
        ("Since", _when(incident.sinceDateTime)),
        ("State", _state(incident)),
    ]
    links = _links(base, incident.source, incident.itemId, incident.tenantId,
                   incident_id=None if resolved else incident.id)  # fmt: skip
    return _card(f"{_TITLES[event.event]}: {_clip(name, MAX_NAME)}", color, facts,
                 incident.reason or "No reason was given.", max_reason, links)  # fmt: skip


def _group_card(group: IncidentGroupEvent, base: str | None, max_reason: int) -> dict[str, Any]:
    """One section per notice (the first MAX_GROUP_LISTED): what happened to which item, its
    source, health and since when, its reason, and its buttons."""
    counts: dict[str, int] = {}
    for notice in group.notices:
        counts[notice.event] = counts.get(notice.event, 0) + 1
    summary = ", ".join(f"{count} {_GROUP_WORDS[kind]}" for kind, count in counts.items())
    title = f"Incidents in {_tenant(group.tenantId)}: {summary}"
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _clip(title, MAX_NAME + 100), "size": "Large",
         "weight": "Bolder", "wrap": True},
    ]  # fmt: skip
    for notice in group.notices[:MAX_GROUP_LISTED]:
        body.append(_group_section(notice, base, max_reason))
    if len(group.notices) > MAX_GROUP_LISTED:
        more = len(group.notices) - MAX_GROUP_LISTED
        body.append({"type": "TextBlock", "text": f"And {more} more.", "wrap": True})
    return {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": "1.4",
            "fallbackText": title, "body": body}  # fmt: skip


_GROUP_WORDS = {"opened": "opened", "reminder": "still unhealthy", "resolved": "resolved"}


def _group_section(notice: IncidentEvent, base: str | None, max_reason: int) -> dict[str, Any]:
    incident = notice.incident
    resolved = notice.event == "resolved"
    name = _clip(incident.displayName or incident.itemId, MAX_NAME)
    color = "good" if resolved else "warning" if incident.health == "warning" else "attention"
    where = f"{incident.source} · {incident.itemId} · {incident.currentHealth} since " + _when(
        incident.sinceDateTime
    )
    items: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"{_TITLES[notice.event]}: {name}", "weight": "Bolder",
         "color": color, "wrap": True},
        {"type": "TextBlock", "text": _clip(where, MAX_FACT), "isSubtle": True, "wrap": True,
         "spacing": "None"},
    ]  # fmt: skip
    if incident.reason and max_reason > 0:
        items.append({"type": "TextBlock", "text": _clip(incident.reason, max_reason),
                      "wrap": True})  # fmt: skip
    links = _links(base, incident.source, incident.itemId, incident.tenantId,
                   incident_id=None if resolved else incident.id)  # fmt: skip
    if links:
        actions = [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in links]
        items.append({"type": "ActionSet", "actions": actions})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _change_card(event: ChangeEvent, base: str | None, max_reason: int) -> dict[str, Any]:
    name = event.displayName or event.id
    verb = f"Action {event.action.name}" if event.action is not None else "Changed"
    color = {"healthy": "good", "warning": "warning", "error": "attention"}.get(str(event.health))
    facts = [
        ("Tenant", _tenant(event.tenantId)),
        ("Source", event.source),
        ("Item", event.id),
        ("Health", f"{event.previousHealth or 'new'} → {event.health}"),
        ("Status", f"{event.previousStatus or 'new'} → {event.status or 'gone'}"),
        ("When", _when(event.changedDateTime)),
    ]
    links = _links(base, event.source, event.id, event.tenantId, incident_id=None)
    return _card(f"{verb}: {_clip(name, MAX_NAME)}", color, facts,
                 event.reason or "", max_reason, links)  # fmt: skip


def _card(
    title: str, color: str | None, facts: list[tuple[str, str]], reason: str, max_reason: int,
    links: list[tuple[str, str]],
) -> dict[str, Any]:  # fmt: skip
    heading: dict[str, Any] = {"type": "TextBlock", "text": title, "size": "Large",
                               "weight": "Bolder", "wrap": True}  # fmt: skip
    if color:
        heading["color"] = color
    body: list[dict[str, Any]] = [
        heading,
        {"type": "FactSet",
         "facts": [{"title": key, "value": _clip(value, MAX_FACT)} for key, value in facts]},
    ]  # fmt: skip
    if reason and max_reason > 0:
        body.append({"type": "TextBlock", "text": _clip(reason, max_reason), "wrap": True})
    card: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": "1.4",
                            "fallbackText": title, "body": body}  # fmt: skip
    if links:
        card["actions"] = [{"type": "Action.OpenUrl", "title": label, "url": url}
                           for label, url in links]  # fmt: skip
    return card


def _links(
    base: str | None, source: str, item_id: str, tenant_id: str | None, *,
    incident_id: str | None,
) -> list[tuple[str, str]]:  # fmt: skip
    """The buttons' labels and absolute URLs (none without a public base URL): the item's
    page, and the incident's page to acknowledge it from (``incident_id``: not resolved)."""
    if not base:
        return []
    scope = {"tenantId": tenant_id} if tenant_id and tenant_id != HOME_ALIAS else {}
    origin = base.rstrip("/")
    links = [
        (
            "Open on the board",
            f"{origin}{BOARD_ITEM_ROUTE}?{urlencode({'source': source, 'id': item_id} | scope)}",
        )
    ]
    if incident_id is not None:
        query = urlencode({"id": incident_id} | scope)
        page = f"{origin}{BOARD_INCIDENT_ROUTE}?{query}#{ACKNOWLEDGE_ANCHOR}"
        links.append(("Acknowledge", page))
    return links


def _tenant(tenant_id: str | None) -> str:
    return "home tenant" if tenant_id in (None, HOME_ALIAS) else str(tenant_id)


def _state(incident: Incident) -> str:
    if incident.state == "acknowledged" and incident.acknowledgedBy:
        return f"acknowledged by {incident.acknowledgedBy}"
    if incident.state == "resolved" and incident.resolvedDateTime:
        by = f" by {incident.resolvedBy}" if incident.resolvedBy else ""
        return f"resolved{by} at {_when(incident.resolvedDateTime)}"
    return incident.state


def _when(timestamp: str | None) -> str:
    """``2026-01-05 10:00 UTC`` (the text itself when it is no timestamp)."""
    if not timestamp:
        return "unknown"
    try:
        return parse_timestamp(timestamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return timestamp


def _clip(text: str, limit: int) -> str:
    """``text`` readable in a card: no control characters, no markdown link, at most
    ``limit`` characters (cut with an ellipsis)."""
    text = _CONTROL.sub("", text).replace("](", "] (").strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
