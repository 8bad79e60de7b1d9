"""HTTP plumbing shared by every route: JSON responses, request bodies, and the one place
where errors become responses (so no input ever yields a 500 with a stack trace)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

from shared.core.api import ApiCall
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

logger = logging.getLogger(__name__)

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


def _unavailable(code: str, message: str) -> ApiError:
    return ApiError(503, code, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def api_error(error: DomainError) -> ApiError:
    """The one mapping from a domain error to its HTTP status and Graph error code."""
    if isinstance(error, RequestTooLargeError):
        return ApiError(413, "RequestEntityTooLarge", error.message)
    if isinstance(error, InvalidInputError):
        return ApiError(400, "BadRequest", error.message, error.target)
    if isinstance(error, NotFoundError):
        return ApiError(404, "ResourceNotFound", error.message)
    if isinstance(error, VersionConflictError):
        return ApiError(412, "PreconditionFailed", error.message)
    if isinstance(error, SettingsError):
        return _unavailable("ServiceNotConfigured", error.message)
    if isinstance(error, StorageUnavailableError):
        return _unavailable("ServiceUnavailable", "Table Storage is unavailable; try again later.")
    if isinstance(error, ContentionError):
        return _unavailable("ServiceUnavailable", error.message)
    return ApiError(500, "InternalServerError", "An unexpected error occurred; it was logged.")


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    try:
        data = json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from the request: escape everything
        data = json.dumps(body).encode()
    return func.HttpResponse(
        data,
        status_code=status,
        headers=headers,
        mimetype="application/json",
        charset="utf-8",
    )


def error_response(error: ApiError) -> func.HttpResponse:
    return json_response(error.to_json(), status=error.status, headers=error.headers)


async def respond(action: Awaitable[func.HttpResponse]) -> func.HttpResponse:
    """Await a route's work and answer every failure in Graph's error shape."""
    try:
        return await action
    except DomainError as error:
        if isinstance(error, StorageUnavailableError):
            logger.warning("Table Storage unavailable: %s", error)
        elif isinstance(error, SettingsError):
            logger.error("Configuration error: %s", error)
        return error_response(api_error(error))
    except Exception:
        # A bug, not the caller's fault: log the stack trace, answer without it.
        logger.exception("Unhandled error")
        return error_response(
            ApiError(500, "InternalServerError", "An unexpected error occurred; it was logged.")
        )


def read_json_body(req: func.HttpRequest) -> Any:
    """The request's JSON body: 413 when over 64 KiB, 400 when it is not JSON."""
    return ApiCall(url=req.url, body=req.get_body() or b"").json_body()
