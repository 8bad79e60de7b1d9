"""``Retry-After``: the one parser, and the one bound on how long the app waits as told.

Graph and webhook receivers send whole (sometimes fractional) seconds. The HTTP-date form is
not used by either and counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Like the Graph SDK's retry middleware: a Retry-After this long means "not now" (not in
# this poll, not in this delivery round), so the request is left for the next one.
MAX_RETRY_AFTER_SECONDS = 180.0


def parse_retry_after(value: Any) -> float | None:
    """Seconds to wait, or None when the value is absent, not a number or negative."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def retry_after_header(headers: Mapping[str, Any]) -> float | None:
    """The Retry-After of a response's headers (names in any case)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return parse_retry_after(value)
    return None
