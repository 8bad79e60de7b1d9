"""A Graph call that failed, as the poll reports it."""

from __future__ import annotations

from typing import Any

# Sub-responses to ask again for, after the Retry-After Graph gives (or a back-off).
RETRYABLE_STATUSES = frozenset({429, 503, 504})


class GraphError(Exception):
    """A Graph call that failed: HTTP status (None when no answer came), code and message."""

    def __init__(
        self, status: int | None, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status or 'no response'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        # Seconds Graph asked us to wait (a 429's or 503's Retry-After), if it said.
        self.retry_after = retry_after

    @property
    def is_retryable(self) -> bool:
        """Throttled or briefly unavailable: the same request may succeed later."""
        return self.status in RETRYABLE_STATUSES

    @property
    def is_refusal(self) -> bool:
        """Graph refused the request itself (retired API, missing permission, bad segment):
        asking again will not help, unlike throttling, timeouts and server errors."""
        return (
            self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)
        )

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.retry_after is not None:
            shown["retryAfter"] = self.retry_after  # a throttled poll's queue delay
        return shown
