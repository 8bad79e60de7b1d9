"""Turning pydantic's validation errors into one sentence a flow maker can act on."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.core.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInputError("The request body must be a JSON object.")
    return body


def error_target(error: Any) -> str:
    """Where pydantic found the problem, as a property path (``filter.sources.0``)."""
    return ".".join(str(part) for part in error["loc"]) or "body"


def error_text(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def parse_model(model: type[M], body: Any) -> M:
    """A request body as ``model``; InvalidInputError naming the property at fault (and, for
    one not allowed, the ones that are)."""
    try:
        return model.model_validate(require_object(body))
    except ValidationError as error:
        first = error.errors()[0]
        name = error_target(first)
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            message = f"Property '{name}' is not allowed. Allowed: {allowed}."
        else:
            message = f"'{name}': {error_text(first)}."
        raise InvalidInputError(message, target=name) from None
