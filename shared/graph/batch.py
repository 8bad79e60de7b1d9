"""JSON batching and throttling: reading a ``$batch`` answer into one result per request,
holding every request of a client while Graph asks it to wait, and pacing the requests that
Graph budgets more tightly (identity reports)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Protocol

from shared.core.jsontext import parse_json
from shared.core.retry_after import retry_after_header
from shared.graph.errors import GraphError

# JSON batching: Graph takes at most 20 requests per $batch.
MAX_BATCH_REQUESTS = 20


class Throttle:
    """Holds every request of a client until the latest Retry-After Graph gave has passed."""

    def __init__(self) -> None:
        self._resume_at = 0.0

    def hold(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    async def wait(self) -> None:
        # A loop, not an Event: another Retry-After may push the time on while we sleep.
        while (remaining := self._resume_at - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)


class RequestPacer(Protocol):
    """What paces the requests Graph budgets more tightly: ``wait()`` before each one returns
    when it may start. The app's is shared by every instance through Table Storage
    (shared.storage.report_budget), with ``LocalReportPacer`` as its fallback."""

    async def wait(self) -> None: ...


class LocalReportPacer:
    """Holds requests so that no more than ``requests`` start in any ``window`` seconds, in
    this process only: Graph allows identity reports (the provisioning logs among them) 5
    requests per 10 seconds per app and tenant."""

    def __init__(self, requests: int = 5, window: float = 10.0) -> None:
        self._requests = requests
        self._window = window
        self._started: deque[float] = deque()

    async def wait(self) -> None:
        while len(self._started) >= self._requests:
            wait = self._started[0] + self._window - time.monotonic()
            if wait <= 0:
                self._started.popleft()
                continue
            await asyncio.sleep(wait)
        self._started.append(time.monotonic())


def _sub_response_body(body: Any) -> dict[str, Any] | GraphError:
    """A successful sub-response's JSON object. Graph embeds JSON bodies as JSON, and other
    bodies as strings: a string is read as JSON, as the same answer outside a batch would be."""
    if isinstance(body, str):
        try:
            body = parse_json(body.encode())
        except ValueError as error:
            return GraphError(200, "invalidJson", f"Graph sent a body that is not JSON: {error}.")
    if not isinstance(body, dict):
        return GraphError(200, "invalidResponse", "Graph sent JSON that is not an object.")
    return body


def sub_responses(
    envelope: dict[str, Any], pending: list[int]
) -> dict[int, dict[str, Any] | GraphError]:
    """Each pending sub-request's answer in a $batch response: its JSON body on 2xx, else
    a GraphError with its status, code, message and Retry-After.

    The answer is matched id by id, and every id must come back exactly once: a missing or
    repeated id fails that sub-request (``invalidBatchResponse``), and an id that names no
    request means the ids cannot be trusted at all, so every sub-request of the envelope
    fails. A failed sub-request is asked again (at the next poll), never silently skipped.
    """
    responses = envelope.get("responses")
    if not isinstance(responses, list):
        raise GraphError(200, "invalidResponse", "A $batch response has no 'responses' array.")
    wanted = {str(index): index for index in pending}
    by_id: dict[str, list[dict[str, Any]]] = {}
    for response in responses:
        response_id = response.get("id") if isinstance(response, dict) else None
        if not isinstance(response_id, str) or response_id not in wanted:
            failure = _batch_failure("answers a request id that was not sent")
            return dict.fromkeys(pending, failure)
        by_id.setdefault(response_id, []).append(response)
    answers: dict[int, dict[str, Any] | GraphError] = {}
    for response_id, index in wanted.items():
        matched = by_id.get(response_id, [])
        if len(matched) == 1:
            answers[index] = _sub_response(matched[0])
        elif matched:
            answers[index] = _batch_failure("answers one request more than once")
        else:
            answers[index] = _batch_failure("left a request out")
    return answers


def _batch_failure(what: str) -> GraphError:
    return GraphError(200, "invalidBatchResponse", f"The $batch response {what}.")


def _sub_response(response: dict[str, Any]) -> dict[str, Any] | GraphError:
    status = response.get("status")
    body = response.get("body")
    headers = response.get("headers") if isinstance(response.get("headers"), dict) else {}
    if not isinstance(status, int):
        return GraphError(200, "invalidResponse", "A sub-response has no status.")
    if 200 <= status < 300:
        return _sub_response_body(body)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    return GraphError(
        status,
        str(error.get("code") or f"http{status}"),
        str(error.get("message") or f"Graph answered HTTP {status}."),
        retry_after=retry_after_header(headers),
    )
