"""The one mapping from domain errors to HTTP: a status and a Graph-shaped error body,
``{"error": {"code", "message", "target"?}}``, with ``Retry-After`` when the caller should
try again later. The OpenAPI document describes each route's errors through it too.

This is the one place the app writes ``Retry-After`` (``retry_after_headers``): whoever set
the wait (Graph's answer passed on, a storage outage, the cooldown), it is whole seconds,
bounded by ``shared/core/retry_after.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.core.errors import (
    ConflictError,
    ContentionError,
    DomainError,
    ForbiddenError,
    GraphUnavailableError,
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    SettingsError,
    StorageUnavailableError,
    TooManyRequestsError,
    UnauthenticatedError,
    VersionConflictError,
)
from shared.core.retry_after import caller_retry_after

# Seconds a caller should wait when a dependency (storage, Graph) is unavailable.
RETRY_AFTER_SECONDS = 30

# Each domain error's HTTP status and Graph error code (a subclass answers as its class).
_STATUS: dict[type[DomainError], tuple[int, str]] = {
    RequestTooLargeError: (413, "RequestEntityTooLarge"),
    InvalidInputError: (400, "BadRequest"),
    UnauthenticatedError: (401, "Unauthorized"),
    ForbiddenError: (403, "Forbidden"),
    NotFoundError: (404, "ResourceNotFound"),
    ConflictError: (409, "Conflict"),
    TooManyRequestsError: (429, "TooManyRequests"),
    VersionConflictError: (412, "PreconditionFailed"),
    SettingsError: (503, "ServiceNotConfigured"),
    StorageUnavailableError: (503, "ServiceUnavailable"),
    ContentionError: (503, "ServiceUnavailable"),
    GraphUnavailableError: (503, "ServiceUnavailable"),
}


@dataclass
class ApiError:
    """An answer other than success: HTTP status, Graph-style code and message."""

    status: int
    code: str
    message: str
    target: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


UNEXPECTED = ApiError(500, "InternalServerError", "An unexpected error occurred; it was logged.")


def retry_after_headers(seconds: float | None = None) -> dict[str, str]:
    """The ``Retry-After`` header of an answer: ``seconds`` (RETRY_AFTER_SECONDS when not
    given) as whole seconds within the one bound."""
    return {"Retry-After": str(caller_retry_after(seconds, RETRY_AFTER_SECONDS))}


def retry_later_headers() -> dict[str, str]:
    """``Retry-After`` for a dependency (storage, Graph) that is unavailable."""
    return retry_after_headers()


def status_of(error_type: type[DomainError]) -> int:
    """The HTTP status a kind of domain error answers with (500 for one not mapped: a bug)."""
    return _mapped(error_type)[0]


def api_error(error: DomainError) -> ApiError:
    """The HTTP status and Graph error code of a domain error."""
    status, code = _mapped(type(error))
    if status == UNEXPECTED.status:
        return UNEXPECTED
    if isinstance(error, StorageUnavailableError):  # its own message may name hosts: not echoed
        message = "Table Storage is unavailable; try again later."
    else:
        message = error.message
    target = error.target if status == 400 else None
    headers = {}
    if isinstance(error, TooManyRequestsError | GraphUnavailableError):
        headers = retry_after_headers(error.retry_after)
    elif status == 503:
        headers = retry_later_headers()
    return ApiError(status, error.code or code, message, target, headers)


def _mapped(error_type: type[DomainError]) -> tuple[int, str]:
    kind = next((kind for kind in error_type.__mro__ if kind in _STATUS), None)
    return _STATUS[kind] if kind is not None else (UNEXPECTED.status, UNEXPECTED.code)
