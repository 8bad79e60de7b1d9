"""``Retry-After``: the one parser, and the one bound, both ways: how long the app waits as
told, and how long it tells its own callers to wait.

Graph and webhook receivers send whole (sometimes fractional) seconds. The HTTP-date form is
not used by either and counts as absent. What the app sends (``caller_retry_after``, written
by ``shared/http/errors.py`` alone) is whole seconds from 1 to the bound, whoever set it: a
Graph answer passed on, a storage outage, the job actions' cooldown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Like the Graph SDK's retry middleware: a Retry-After this long means "not now" (not in
# this poll, not in this delivery round), so the request is left for the next one. It is
# also the longest the app tells a caller to wait: a caller asked to wait longer (a day of
# cooldown, Graph's 999999999) asks again then, and is told again.
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


def caller_retry_after(seconds: float | None, default: int) -> int:
    """The Retry-After the app sends its callers: ``seconds`` rounded up to whole seconds, at
    least 1 and at most MAX_RETRY_AFTER_SECONDS; ``default`` (bounded alike) when ``seconds``
    is absent, not a number, or not positive."""
    if seconds is None or math.isnan(seconds) or seconds <= 0:
        seconds = default
    return max(1, math.ceil(min(float(seconds), MAX_RETRY_AFTER_SECONDS)))
