"""JSON as the app reads it from Graph and from callers, and keeps it: exactly as sent."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

# The largest Edm.Int64, which Graph's counts (errorCount, countEscrowed, ...) may reach.
INT64_MAX = 2**63 - 1


def parse_json(data: bytes) -> Any:
    """JSON from Graph or a caller. Python's json also reads NaN and Infinity, which are not
    JSON and could not be served back as JSON: those are a ValueError here."""
    return json.loads(data, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def ensure_storable(document: Any) -> None:
    """JSON that storage and responses can hold: no lone surrogate (JSON may escape one,
    ``"\\ud800"``, but no encoding can write it). Raises ValueError."""
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError("The document holds a lone surrogate.") from None


def fingerprint(document: Any) -> str:
    """A digest of a JSON document that ignores the order of its keys: a poll compares it
    with the last one to know whether Graph sent anything new."""
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def first_problem(error: ValueError) -> str:
    """One line saying what is wrong with a document, from pydantic's first error."""
    if isinstance(error, ValidationError):
        detail = error.errors()[0]
        where = ".".join(str(part) for part in detail["loc"])
        return f"{where}: {detail['msg']}"
    return str(error)
