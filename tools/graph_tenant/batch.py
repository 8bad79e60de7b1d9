"""JSON batching (``$batch``): the envelope's sub-requests, validated, and their answers.

Each sub-request is answered by the tenant exactly as a top-level request would be, so
throttling, faults, refusals and ``Prefer`` apply per sub-request.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

from multidict import CIMultiDict

from tools.graph_tenant.common import GraphAnswer, GraphCall

# Graph refuses a $batch with more requests than this, and never nests batches.
MAX_BATCH_REQUESTS = 20
BATCH_PATH = re.compile(r"/(?P<version>v1\.0|beta)/\$batch")
# Headers of the $batch envelope that also hold for its sub-requests: who is calling and which
# host they dialled (for nextLinks). Everything else, Prefer included, is per sub-request.
BATCH_ENVELOPE_HEADERS = ("Host", "Authorization")


class BatchStep(NamedTuple):
    """One sub-request of a ``$batch``, validated."""

    id: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class SubRequest(NamedTuple):
    """A sub-request as the tenant answers it: a Graph path, query and headers of its own."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes


# The tenant's side of a batch: record a sub-request, and answer one that is not a batch.
SubRequestRecorder = Callable[[SubRequest], None]
SubRequestAnswerer = Callable[[SubRequest], Awaitable[GraphAnswer]]


def required_string(request: Mapping[str, Any], name: str) -> str:
    """A mandatory property of a batch request; ValueError when missing or empty."""
    value = request.get(name)
    if not (isinstance(value, str) and value):
        raise ValueError(f"Each batch request needs a non-empty string '{name}'.")
    return value


def parse_batch(raw: bytes) -> list[BatchStep]:
    """The sub-requests of a ``$batch`` body; ValueError (Graph's 400 message) when invalid.

    Graph wants a JSON object whose ``requests`` lists 1 to 20 objects, each with a unique
    ``id``, a ``method`` and a relative ``url``; ``headers`` and ``body`` are optional.
    ``dependsOn`` is accepted and needs no handling here: sub-requests are answered in order.
    """
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("Invalid batch payload format.") from None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ValueError("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise ValueError(
            f"Number of batch request steps exceeds the maximum of {MAX_BATCH_REQUESTS}."
        )
    steps: list[BatchStep] = []
    seen: set[str] = set()
    for request in requests:
        if not isinstance(request, dict):
            raise ValueError("Invalid batch payload format: each request must be an object.")
        step_id, method, url = (required_string(request, name) for name in ("id", "method", "url"))
        if step_id in seen:
            raise ValueError(f"Batch request ids must be unique; '{step_id}' is repeated.")
        seen.add(step_id)
        if urllib.parse.urlsplit(url).scheme:
            raise ValueError(f"Batch request '{step_id}': the url must be relative.")
        headers = request.get("headers", {})
        if not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
            raise ValueError(f"Batch request '{step_id}': 'headers' must map names to strings.")
        body = json.dumps(request["body"]).encode() if request.get("body") is not None else b""
        steps.append(BatchStep(step_id, method.upper(), url, headers, body))
    return steps


def batch_response(step_id: str, answer: GraphAnswer) -> dict[str, Any]:
    """One entry of a ``$batch`` response: the sub-answer with its body as parsed JSON.

    A body that is not JSON (a ``malformed`` fault) is embedded as a JSON string, so that the
    envelope stays valid while the client still cannot read the object it asked for.
    """
    response: dict[str, Any] = {
        "id": step_id,
        "status": answer.status,
        "headers": dict(answer.headers),
    }
    if answer.body:
        try:
            response["body"] = json.loads(answer.body)
        except ValueError:
            response["body"] = answer.body.decode(errors="replace")
    return response


def sub_request(step: BatchStep, version: str, lent: list[tuple[str, str]]) -> SubRequest:
    """The Graph request a step stands for: its url under the envelope's version, with the
    envelope's ``lent`` headers unless the step sets them itself."""
    parts = urllib.parse.urlsplit(step.url)
    path = f"/{version}/{urllib.parse.unquote(parts.path).lstrip('/')}"
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    headers: CIMultiDict[str] = CIMultiDict(lent)
    for name, value in step.headers.items():
        headers[name] = value
    return SubRequest(step.method, path, query, headers, step.body)


async def answer_batch(
    call: GraphCall,
    version: str,
    record: SubRequestRecorder,
    answer: SubRequestAnswerer,
) -> GraphAnswer:
    """Answer each sub-request of the envelope ``call``, in order, as Graph's $batch does.

    The envelope's Host and Authorization are lent to each sub-request, nothing else. Every
    sub-request is recorded; a nested batch is refused, the others go to ``answer``.
    """
    try:
        steps = parse_batch(call.body)
    except ValueError as exc:
        return call.error(400, "BadRequest", str(exc))
    lent = [(name, call.headers[name]) for name in BATCH_ENVELOPE_HEADERS if name in call.headers]
    responses = []
    for step in steps:
        request = sub_request(step, version, lent)
        record(request)
        if BATCH_PATH.fullmatch(request.path) is not None:
            sub_answer = call.error(400, "BadRequest", "Nested batch requests are not supported.")
        else:
            sub_answer = await answer(request)
        responses.append(batch_response(step.id, sub_answer))
    return call.answer(200, {"responses": responses})
