"""Errors the API answers with, in Microsoft Graph's shape: ``{"error": {"code", "message"}}``.

Raised anywhere below a handler; ``shared.http.respond`` turns them into responses, so a
handler never builds an error body itself.
"""

from __future__ import annotations

from typing import Any

# Seconds a caller should wait when a dependency (storage, Graph) is unavailable.
RETRY_AFTER_SECONDS = 30


class ApiError(Exception):
    """An answer other than success, with its HTTP status and Graph-style code and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def bad_request(message: str, *, target: str | None = None) -> ApiError:
    return ApiError(400, "BadRequest", message, target=target)


def not_found(message: str) -> ApiError:
    return ApiError(404, "ResourceNotFound", message)


def precondition_failed(message: str) -> ApiError:
    return ApiError(412, "PreconditionFailed", message)


def payload_too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"The request body exceeds {limit} bytes.")


def service_unavailable(message: str, *, code: str = "ServiceUnavailable") -> ApiError:
    return ApiError(503, code, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class StorageUnavailableError(Exception):
    """Table Storage could not be reached or answered with a server error."""
