"""HTTP plumbing shared by every route: JSON responses, request bodies, and the one place
where errors become responses (so no input ever yields a 500 with a stack trace)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any

import azure.functions as func

from shared.errors import (
    ApiError,
    StorageUnavailableError,
    bad_request,
    payload_too_large,
    service_unavailable,
)
from shared.models import parse_json
from shared.settings import SettingsError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


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
    except ApiError as error:
        return error_response(error)
    except StorageUnavailableError as error:
        logger.warning("Table Storage unavailable: %s", error)
        return error_response(service_unavailable("Table Storage is unavailable; try again later."))
    except SettingsError as error:
        logger.error("Configuration error: %s", error)
        return error_response(service_unavailable(str(error), code="ServiceNotConfigured"))
    except Exception:
        # A bug, not the caller's fault: log the stack trace, answer without it.
        logger.exception("Unhandled error")
        return error_response(
            ApiError(500, "InternalServerError", "An unexpected error occurred; it was logged.")
        )


def read_json_body(req: func.HttpRequest) -> Any:
    """The request's JSON body: 413 when over 64 KiB, 400 when it is not JSON."""
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise payload_too_large(MAX_BODY_BYTES)
    try:
        document = parse_json(body)
        # JSON may escape lone surrogates ("\ud800"), which no storage or response can encode.
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise bad_request(
            "The request body holds a lone surrogate, which is not Unicode."
        ) from None
    except RecursionError:
        raise bad_request("The request body is nested too deeply.") from None
    except ValueError as error:
        raise bad_request(f"The request body is not valid JSON: {error}.") from None
    return document
