"""Function keys and auth levels, enforced only when keys are configured.

Azure checks ``x-functions-key`` (or ``?code=``) against the app's keys; Core Tools checks
nothing locally. This host sits in between so the e2e tests and Power Automate experiments
can exercise the same 401s as Azure: set ``FUNCTIONS_MASTER_KEY`` and/or
``FUNCTIONS_FUNCTION_KEY`` (one key each) and they are enforced; set neither and every
request is let through, like Core Tools.

Levels: ``anonymous`` always passes; ``function`` takes the function key or the master key;
``admin`` (admin-level functions and the host's ``/admin`` API) takes the master key, or
the function key when no master key is configured, so that a function key alone never
leaves the admin API less protected than the functions.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ADMIN", "ANONYMOUS", "FUNCTION", "Keys", "presented_key"]

ANONYMOUS = "anonymous"
FUNCTION = "function"
ADMIN = "admin"

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


@dataclass(frozen=True)
class Keys:
    master: str | None = None
    function: str | None = None

    @property
    def enforced(self) -> bool:
        return self.master is not None or self.function is not None

    def accepted(self, level: str) -> tuple[str, ...]:
        """The keys that open ``level``; empty means no check."""
        if level == ANONYMOUS:
            return ()
        if level == ADMIN:
            key = self.master or self.function
            return (key,) if key else ()
        return tuple(key for key in (self.function, self.master) if key)

    def allows(self, level: str, presented: str | None) -> bool:
        accepted = self.accepted(level)
        if not accepted:
            return True
        if presented is None:
            return False
        given = presented.encode()
        # Compare against every key so the time taken does not tell which one was close.
        matches = [hmac.compare_digest(given, key.encode()) for key in accepted]
        return any(matches)


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a caller sent: the ``x-functions-key`` header wins over ``?code=``."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY) or None
