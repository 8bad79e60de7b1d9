"""The one mapping from domain errors to HTTP: a status and a Graph-shaped error body,
``{"error": {"code", "message", "target"?}}``, with ``Retry-After`` when the caller should
try again later."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.core.errors import (
    ContentionError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    SettingsError,
    StorageUnavailableError,
    VersionConflictError,
)

# Seconds a caller should wait when a dependency (storage, Graph) is unavailable.
RETRY_AFTER_SECONDS = 30


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


def retry_later_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def api_error(error: DomainError) -> ApiError:
    """The HTTP status and Graph error code of a domain error."""
    if isinstance(error, RequestTooLargeError):
        return ApiError(413, "RequestEntityTooLarge", error.message)
    if isinstance(error, InvalidInputError):
        return ApiError(400, "BadRequest", error.message, error.target)
    if isinstance(error, NotFoundError):
        return ApiError(404, "ResourceNotFound", error.message)
    if isinstance(error, VersionConflictError):
        return ApiError(412, "PreconditionFailed", error.message)
    if isinstance(error, SettingsError):
        return ApiError(503, "ServiceNotConfigured", error.message, headers=retry_later_headers())
    if isinstance(error, StorageUnavailableError):
        message = "Table Storage is unavailable; try again later."
        return ApiError(503, "ServiceUnavailable", message, headers=retry_later_headers())
    if isinstance(error, ContentionError):
        return ApiError(503, "ServiceUnavailable", error.message, headers=retry_later_headers())
    return UNEXPECTED
