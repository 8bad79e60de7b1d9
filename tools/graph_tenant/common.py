"""What every part of the simulated tenant shares: Graph's wire format (content types, error
bodies, timestamps), paging with opaque skiptokens, and the request/answer types of routes."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol, TypeVar

from multidict import CIMultiDict

GRAPH_JSON = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
# Graph sends its error bodies with a bare JSON content type.
PLAIN_JSON = "application/json"

MAX_TOP = 999
# Characters a nextLink leaves unescaped in the query options it repeats.
QUERY_SAFE = "'(),:$/"

# A body cut off mid-object, as a dropped connection or a broken proxy would deliver it.
MALFORMED_BODY = b'{"@odata.context": "truncated", "id": "'

DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token is empty."),
    403: ("Forbidden", "Insufficient privileges to complete the operation."),
    404: ("ResourceNotFound", "The requested resource was not found."),
    405: ("BadRequest", "Specified HTTP method is not allowed for the request uri."),
    429: ("TooManyRequests", "Too many requests. Retry after the time in Retry-After."),
    500: ("InternalServerError", "An internal server error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway did not receive a response in time."),
}

# Deterministic ids of generated and demo data are uuid5 names in this namespace.
ID_NAMESPACE = uuid.UUID("6f1d7c52-3a4e-5b8f-9c0d-2e7a41b9d6c3")

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
# Seconds between two demo ticks unless --demo-interval says otherwise (what `make run` uses):
# the demo's cycles (a flapping job, a Connect outage) are counted in ticks of this length.
DEMO_INTERVAL_SECONDS = 20.0


def graph_seconds_timestamp(epoch_ns: int) -> str:
    """An instant the way Graph sends directory timestamps such as the organization's last
    sync: UTC, whole seconds, ``Z`` suffix (no fraction at all)."""
    return f"{datetime.fromtimestamp(epoch_ns // SECOND_NS, UTC):%Y-%m-%dT%H:%M:%S}Z"


def graph_timestamp(epoch_ns: int) -> str:
    """Format an instant the way Graph does: UTC, 100-ns precision (7 digits), ``Z`` suffix.

    Python's datetime stops at microseconds, so the fraction is computed from nanoseconds.
    """
    seconds, remainder = divmod(epoch_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{remainder // 100:07d}Z"


def random_offset_ns(rng: random.Random, low_seconds: int, high_seconds: int) -> int:
    """A random duration in 100-ns ticks, so generated timestamps use all 7 digits."""
    return rng.randrange(low_seconds * 10_000_000, high_seconds * 10_000_000) * 100


def retry_after_value(seconds: float) -> str:
    """Graph sends whole seconds; fractions are kept so that tests need not wait seconds."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def json_copy(value: Any) -> Any:
    """An independent copy of JSON data: new dicts and lists, shared immutable leaves.

    Several times faster than copy.deepcopy (no memo), and unlike a JSON round trip it shares
    key strings, which keeps tenants of 10,000+ jobs or runs small. Values that are not JSON
    containers are shared as they are.
    """
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_copy(item) for item in value]
    return value


def default_error(status: int) -> tuple[str, str]:
    """Graph-like code and message for a status that a fault or refusal did not spell out."""
    if status in DEFAULT_ERRORS:
        return DEFAULT_ERRORS[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "UnknownError", f"The service answered HTTP {status}."
    return "".join(phrase.title().split()), f"{phrase}."


def is_answerable_status(status: object) -> bool:
    """Statuses a fault or refusal may give: 200 (answer normally) or an error status."""
    return isinstance(status, int) and (status == 200 or 400 <= status <= 599)


def encode_skiptoken(offset: int, top: int) -> str:
    """An opaque continuation token, so that clients follow nextLink instead of building it."""
    raw = json.dumps({"offset": offset, "top": top}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str) -> tuple[int, int]:
    """(offset, top) from a token made by :func:`encode_skiptoken`; ValueError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        offset, top = decoded["offset"], decoded["top"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"The $skiptoken value '{token}' is not valid.") from exc
    if not (isinstance(offset, int) and isinstance(top, int) and offset >= 0 and top >= 1):
        raise ValueError(f"The $skiptoken value '{token}' is not valid.")
    return offset, top


def parse_top(value: str) -> int:
    """The ``$top`` page size; Graph rejects values outside 1..999 with 400."""
    try:
        top = int(value)
    except ValueError:
        top = 0
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"Invalid value '{value}' for $top: expected 1 to {MAX_TOP}.")
    return top


class GraphAnswer(NamedTuple):
    """A complete Graph response, independent of aiohttp so that $batch can embed it."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class GraphCall:
    """What a route handler needs to know about the request it answers."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDict[str]
    base_url: str
    body: bytes = b""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def client_request_id(self) -> str:
        """Graph echoes the caller's id, or reuses its own request id when none was sent."""
        return self.headers.get("client-request-id") or self.request_id

    def answer(self, status: int, payload: Any, *, content_type: str = GRAPH_JSON) -> GraphAnswer:
        try:
            body = json.dumps(payload, ensure_ascii=False).encode()
        except (
            UnicodeEncodeError
        ):  # a lone surrogate: JSON's \u escape carries it, as Graph's would
            body = json.dumps(payload).encode()
        return GraphAnswer(status, self._headers(content_type), body)

    def no_content(self) -> GraphAnswer:
        """Graph's 204 to an action: no body, no content type, the request ids."""
        headers = self._headers(PLAIN_JSON)
        del headers["Content-Type"]
        return GraphAnswer(204, headers, b"")

    def malformed(self) -> GraphAnswer:
        return GraphAnswer(200, self._headers(PLAIN_JSON), MALFORMED_BODY)

    def error(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> GraphAnswer:
        default_code, default_message = default_error(status)
        payload = {
            "error": {
                "code": code or default_code,
                "message": message or default_message,
                "innerError": {
                    "date": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}",
                    "request-id": self.request_id,
                    "client-request-id": self.client_request_id,
                },
            }
        }
        answer = self.answer(status, payload, content_type=PLAIN_JSON)
        if retry_after is not None:
            answer.headers["Retry-After"] = retry_after_value(retry_after)
        return answer

    def _headers(self, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "request-id": self.request_id,
            "client-request-id": self.client_request_id,
        }


RouteHandler = Callable[[GraphCall, re.Match[str]], Awaitable[GraphAnswer]]


class Route(NamedTuple):
    """A Graph endpoint: requests whose path fully matches ``pattern`` go to ``handler``."""

    method: str
    pattern: re.Pattern[str]
    handler: RouteHandler


class Paging(Protocol):
    """The page sizes of listings (the tenant's, which tests may change at any time)."""

    page_size: int
    max_page_size: int


Key = TypeVar("Key")


def page(
    call: GraphCall,
    keys: Sequence[Key],
    item: Callable[[Key], dict[str, Any]],
    context: str,
    paging: Paging,
    carried: Sequence[str] = (),
) -> GraphAnswer:
    """One page of a listing, with an opaque nextLink to the same path when more remain.

    ``carried`` names the query options (``$select``, ``$filter``) that the nextLink repeats
    before its ``$skiptoken``, as Graph's do, so that every page answers the same question.
    Only the page's items are looked up, and nothing is copied: json.dumps reads the
    stored resources directly, which keeps large tenants cheap to page through.
    """
    try:
        offset, top = page_window(call.query, paging)
    except ValueError as exc:
        return call.error(400, "BadRequest", str(exc))
    payload: dict[str, Any] = {
        "@odata.context": context,
        "value": [item(key) for key in keys[offset : offset + top]],
    }
    if offset + top < len(keys):
        token = encode_skiptoken(offset + top, top)
        link_path = urllib.parse.quote(call.path, safe="/$'(),=")
        options = "".join(
            f"{name}={urllib.parse.quote(call.query[name], safe=QUERY_SAFE)}&"
            for name in carried
            if name in call.query
        )
        payload["@odata.nextLink"] = f"{call.base_url}{link_path}?{options}$skiptoken={token}"
    return call.answer(200, payload)


def page_window(query: Mapping[str, str], paging: Paging) -> tuple[int, int]:
    """(offset, page size): the skiptoken carries both; an explicit $top overrides size,
    up to ``max_page_size``."""
    offset, top = 0, paging.page_size
    if "$skiptoken" in query:
        offset, top = decode_skiptoken(query["$skiptoken"])
    if "$top" in query:
        top = parse_top(query["$top"])
    return offset, min(top, paging.max_page_size)
