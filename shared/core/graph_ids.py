"""Ids that go into a Graph path: the one rule they must meet, and the one way they are put in.

An id Graph sent (a job's, a profile's, a run's) or a caller named (a route's jobId) is put
into the path of a Graph request only through :func:`graph_segment`, which checks it against
the rule and escapes it. Real Graph ids are GUIDs (service principals, SDS profiles, Industry
Data runs) or words joined by single dots (jobs: ``scim.8f2b…``,
``AD2AADProvisioning.<32 hex>.<GUID>``), so the rule is: letters, digits, ``-`` and ``_``,
in words joined by single dots, at most :data:`MAX_GRAPH_ID_LENGTH` characters. That leaves
out ``.`` and ``..`` (which an HTTP client resolves as dot segments: ``jobs/../start`` would
act on ``synchronization/start``), ``/``, ``?``, ``#``, ``\\``, ``%`` (an escape that a
server decodes into one of them), spaces and control characters.

An id that fails is never sent: a poll reports the item (a count by reason, see
:class:`UnsafeIds`) and does not cache it; a route answers 400.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from shared.core.errors import InvalidInputError

MAX_GRAPH_ID_LENGTH = 256
GRAPH_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
# The error code a poll counts an item under when its id fails (its health entry's errors).
UNSAFE_ID_CODE = "unsafeGraphId"
RULE = (
    "letters, digits, '-' and '_', in words joined by single dots, "
    f"at most {MAX_GRAPH_ID_LENGTH} characters"
)
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")
_SEPARATORS = re.compile(r"[/?#\\%]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UnsafeGraphIdError(InvalidInputError):
    """An id that may not go into a Graph path; ``reason`` says why, in one word."""

    def __init__(self, message: str, *, reason: str, target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.reason = reason


def unsafe_reason(value: Any) -> str | None:
    """Why ``value`` may not go into a Graph path (one word, for counts), or None if it may."""
    if not isinstance(value, str) or not value:
        return "empty"
    if len(value) > MAX_GRAPH_ID_LENGTH:
        return "tooLong"
    if GRAPH_ID.fullmatch(value):
        return None
    if _DOT_SEGMENT.search(value):
        return "dotSegment"
    if _SEPARATORS.search(value):
        return "reservedCharacter"
    if _CONTROL.search(value):
        return "controlCharacter"
    return "notAGraphId"  # spaces, other punctuation, empty words, non-ASCII


def check_graph_id(value: Any, *, name: str = "id") -> str:
    """``value`` if it may go into a Graph path; UnsafeGraphIdError (a 400) naming ``name``
    if not. The message does not quote the value."""
    reason = unsafe_reason(value)
    if reason is not None:
        raise UnsafeGraphIdError(
            f"The {name} is not a Graph id ({reason}): Graph ids are {RULE}.",
            reason=reason,
            target=name,
        )
    return value


def graph_segment(value: Any, *, name: str = "id") -> str:
    """The one way an id goes into a Graph path: checked (UnsafeGraphIdError if it fails),
    then percent-escaped as one path segment."""
    return quote(check_graph_id(value, name=name), safe="")


@dataclass
class UnsafeIds:
    """The ids a poll left out because they may not go into a Graph path, counted by reason
    (never quoted: health shows counts and codes only)."""

    reasons: Counter[str] = field(default_factory=Counter)

    def admits(self, value: Any) -> bool:
        """Whether the id is safe; one that is not is counted."""
        reason = unsafe_reason(value)
        if reason is not None:
            self.reasons[reason] += 1
        return reason is None

    def __len__(self) -> int:
        return sum(self.reasons.values())

    def report(self) -> dict[str, Any]:
        """What the source's health entry shows (``lastPoll.details.unsafeIds``): how many
        items were left out, not cached, and how many for each reason."""
        return {"count": len(self), "reasons": dict(sorted(self.reasons.items()))}
