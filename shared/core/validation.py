"""Turning pydantic's validation errors into one sentence a flow maker can act on."""

from __future__ import annotations

from typing import Any

from shared.core.errors import InvalidInputError


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInputError("The request body must be a JSON object.")
    return body


def error_target(error: Any) -> str:
    """Where pydantic found the problem, as a property path (``filter.sources.0``)."""
    return ".".join(str(part) for part in error["loc"]) or "body"


def error_text(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")
