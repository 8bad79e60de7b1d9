"""A simulated Microsoft Graph tenant that serves School Data Sync profiles and their statuses.

The real education synchronization API stopped returning data at the end of 2024, so the app
can only be exercised against a stand-in. This one mirrors the parts of Graph the app relies
on: paged listings with opaque ``@odata.nextLink`` tokens, the evolvable-enum rule behind
``Prefer: include-unknown-enum-members``, Graph-shaped error bodies, and statuses served byte
for byte as stored (Int64 counts, 7-digit fractional timestamps, ``\\r\\n`` in messages).

Tests steer it two ways: in-process through :class:`SimulatedTenant` (same event loop as the
code under test), or over HTTP through the ``/_tenant/`` control API when it runs as a
subprocess (``python -m tools.graph_tenant``). Faults (throttling, server errors, slow or
truncated answers) and the refusal of a retired API can be switched on per path.

Every Graph answer is computed by :meth:`SimulatedTenant._answer` from (method, path, query,
headers) alone, with faults and refusals applied there, so that a future ``$batch`` handler can
answer each sub-request the same way a top-level request is answered. New Graph endpoints are
one more entry in ``SimulatedTenant._routes``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import copy
import json
import logging
import random
import re
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, NamedTuple, Self

from aiohttp import web
from multidict import CIMultiDict

logger = logging.getLogger(__name__)

GRAPH_JSON = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
# Graph sends its error bodies with a bare JSON content type.
PLAIN_JSON = "application/json"

PROFILES_PATH = "/beta/education/synchronizationProfiles"
MAX_TOP = 999

# Members of educationSynchronizationStatus that Graph only sends to clients that opted in;
# everyone else sees ``unknownFutureValue`` in their place.
EVOLVABLE_STATUS_MEMBERS = frozenset({"extracting", "validating"})
INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"

# Path prefix of each Graph API ("source") that can be refused as a whole.
SOURCE_PREFIXES = {"education": "/beta/education/"}

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

# Deterministic profile ids (``--profiles``, ``--demo``) are uuid5 names in this namespace.
ID_NAMESPACE = uuid.UUID("6f1d7c52-3a4e-5b8f-9c0d-2e7a41b9d6c3")

SHUTDOWN_TIMEOUT = 1.0


def graph_timestamp(epoch_ns: int) -> str:
    """Format an instant the way Graph does: UTC, 100-ns precision (7 digits), ``Z`` suffix.

    Python's datetime stops at microseconds, so the fraction is computed from nanoseconds.
    """
    seconds, remainder = divmod(epoch_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{remainder // 100:07d}Z"


def retry_after_value(seconds: float) -> str:
    """Graph sends whole seconds; fractions are kept so that tests need not wait seconds."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


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


def prefers_unknown_enum_members(headers: CIMultiDict[str]) -> bool:
    """Whether any ``Prefer`` header lists ``include-unknown-enum-members`` (any case)."""
    for value in headers.getall("Prefer", []):
        for preference in value.split(","):
            if preference.split(";", 1)[0].strip().lower() == INCLUDE_UNKNOWN_ENUM_MEMBERS:
                return True
    return False


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


def default_status(profile_id: str) -> dict[str, Any]:
    """A freshly synchronized profile, shaped like the example on Graph's reference page."""
    now = graph_timestamp(time.time_ns())
    return {
        "id": profile_id,
        "status": "success",
        "lastSynchronizationDateTime": now,
        "lastActivityDateTime": now,
        "errorCount": 0,
        "statusMessage": "Processed 0 in the last hour.\r\nUpdated 0 in the last hour.",
    }


def profile_resource(profile_id: str, display_name: str, state: str) -> dict[str, Any]:
    """An educationSynchronizationProfile with the properties a CSV profile has in Graph."""
    return {
        "id": profile_id,
        "displayName": display_name,
        "state": state,
        "dataProvider": {
            "@odata.type": "#microsoft.graph.educationCsvDataProvider",
            "customizations": None,
        },
        "expirationDate": "2027-06-30",
        "handleSpecialCharacterConstraint": False,
    }


@dataclass(frozen=True)
class RecordedRequest:
    """One Graph request as the tenant received it, for tests that check what the app sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    time: float

    def to_json(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "time": self.time,
        }


@dataclass
class Fault:
    """A misbehaviour injected for requests whose path fully matches ``path`` (a regex).

    ``skip`` matching requests are answered normally first (to fail page 2 of a listing,
    say); then ``times`` is how many requests it answers before it lapses (None: forever);
    ``hits`` counts the requests it has answered so far.
    """

    path: str
    _: KW_ONLY
    status: int = 500
    retry_after: float | None = None
    times: int | None = 1
    delay: float = 0.0
    malformed: bool = False
    code: str | None = None
    message: str | None = None
    method: str = "GET"
    skip: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    hits: int = 0
    skipped: int = field(default=0, init=False)
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.pattern = re.compile(self.path)
        except (re.error, TypeError) as exc:
            raise ValueError(f"Fault path {self.path!r} is not a valid regex: {exc}") from exc
        if not is_answerable_status(self.status):
            raise ValueError(f"Fault status must be 200 or 400 to 599, not {self.status!r}.")
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 0):
            raise ValueError(f"Fault times must be null or a count, not {self.times!r}.")
        if not (isinstance(self.skip, int) and self.skip >= 0):
            raise ValueError(f"Fault skip must be a count, not {self.skip!r}.")
        for name in ("delay", "retry_after"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"Fault {name} must be a number of seconds, not {value!r}.")
        if not isinstance(self.method, str):
            raise ValueError(f"Fault method must be a string, not {self.method!r}.")
        self.method = self.method.upper()

    def applies_to(self, method: str, path: str) -> bool:
        live = self.times is None or self.hits < self.times
        return live and method == self.method and self.pattern.fullmatch(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "status": self.status,
            "retryAfter": self.retry_after,
            "times": self.times,
            "skip": self.skip,
            "delay": self.delay,
            "malformed": self.malformed,
            "code": self.code,
            "message": self.message,
            "method": self.method,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class Refusal:
    """The error a retired Graph API gives to every request under it."""

    status: int
    code: str
    message: str

    def __post_init__(self) -> None:
        if not (is_answerable_status(self.status) and self.status != 200):
            raise ValueError(f"A refusal status must be 400 to 599, not {self.status!r}.")
        if not (isinstance(self.code, str) and isinstance(self.message, str)):
            raise ValueError("A refusal needs a string code and message.")


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
    method: str
    pattern: re.Pattern[str]
    handler: RouteHandler


class SimulatedTenant:
    """An in-memory Graph tenant served over HTTP by aiohttp.

    ``page_size`` is the listing page size when the client sends no ``$top``; ``latency`` is
    the number of seconds added to every Graph response (both may be changed at any time).
    """

    def __init__(self, page_size: int = 100, latency: float = 0.0) -> None:
        if not 1 <= page_size <= MAX_TOP:
            raise ValueError(f"page_size must be 1 to {MAX_TOP}, not {page_size}.")
        self.page_size = page_size
        self.latency = latency
        self._profiles: dict[str, dict[str, dict[str, Any]]] = {}
        self._faults: list[Fault] = []
        self._refusals: dict[str, Refusal] = {}
        self._requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        # Set while stopping, so that slow answers end at once instead of holding shutdown.
        self._stopping = asyncio.Event()
        profile_path = rf"{PROFILES_PATH}/(?P<id>[^/]+)"
        self._routes: tuple[Route, ...] = (
            Route("GET", re.compile(PROFILES_PATH), self._serve_profile_list),
            Route("GET", re.compile(profile_path), self._serve_profile),
            Route("GET", re.compile(rf"{profile_path}/profileStatus"), self._serve_profile_status),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running tenant, without a version segment."""
        if self._url is None:
            raise RuntimeError("The simulated tenant is not running.")
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("The simulated tenant is already running.")
        self._stopping.clear()
        runner = web.AppRunner(self._build_app(), shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        self._url = f"http://{url_host}:{bound_port}"
        logger.info("Simulated Graph tenant listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Stop serving; requests still waiting on a delay or latency are answered at once."""
        if self._runner is None:
            return
        self._stopping.set()
        await self._runner.cleanup()
        self._runner = None
        self._url = None
        logger.info("Simulated Graph tenant stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- tenant data -------------------------------------------------------------------------

    def add_profile(
        self,
        id: str,  # Graph's name for it, so that callers may pass id=...
        display_name: str = "",
        state: str = "provisioned",
        status: dict[str, Any] | None = None,
    ) -> None:
        """Add or replace a profile; ``status`` is kept verbatim (a realistic success if None)."""
        self._profiles[id] = {
            "profile": profile_resource(id, display_name or id, state),
            "status": copy.deepcopy(status) if status is not None else default_status(id),
        }

    def set_status(self, profile_id: str, /, **changes: Any) -> None:
        """Merge ``changes`` into a profile's status, as the sync engine would update it."""
        self._profiles[profile_id]["status"].update(copy.deepcopy(changes))

    def get_profile(self, profile_id: str) -> dict[str, dict[str, Any]]:
        """A copy of one entry, {"profile": ..., "status": ...} (KeyError for an unknown id)."""
        return copy.deepcopy(self._profiles[profile_id])

    def remove_profile(self, profile_id: str) -> None:
        del self._profiles[profile_id]

    @property
    def profiles(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: id -> {"profile": ..., "status": ...}, in insertion order."""
        return copy.deepcopy(self._profiles)

    # -- misbehaviour ------------------------------------------------------------------------

    def add_fault(
        self,
        path: str,
        *,
        status: int = 500,
        retry_after: float | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        malformed: bool = False,
        code: str | None = None,
        message: str | None = None,
        method: str = "GET",
        skip: int = 0,
    ) -> Fault:
        """Misbehave for matching requests; the earliest live fault wins when several match."""
        fault = Fault(
            path,
            status=status,
            retry_after=retry_after,
            times=times,
            delay=delay,
            malformed=malformed,
            code=code,
            message=message,
            method=method,
            skip=skip,
        )
        self._faults.append(fault)
        return fault

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    def refuse_source(
        self,
        name: str,
        status: int = 400,
        code: str = "BadRequest",
        message: str = "Resource not found for the segment 'synchronizationProfiles'.",
    ) -> None:
        """Answer every request of a Graph API with one error, as Graph does once it retires."""
        self._source_prefix(name)
        self._refusals[name] = Refusal(status, code, message)
        logger.info("Refusing source %s with %s %s", name, status, code)

    def restore_source(self, name: str) -> None:
        self._source_prefix(name)
        if self._refusals.pop(name, None) is not None:
            logger.info("Source %s restored", name)

    @staticmethod
    def _source_prefix(name: str) -> str:
        try:
            return SOURCE_PREFIXES[name]
        except KeyError:
            raise ValueError(f"Unknown source {name!r}; known: {sorted(SOURCE_PREFIXES)}") from None

    # -- request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every Graph request received (control API calls excluded), oldest first."""
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests.clear()

    # -- HTTP plumbing -----------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(ControlApi(self).routes())
        app.router.add_route("*", "/{tail:.*}", self._handle_graph)
        return app

    async def _handle_graph(self, request: web.Request) -> web.Response:
        headers = CIMultiDict(request.headers)
        query = dict(request.query)
        self._requests.append(
            RecordedRequest(request.method, request.path, query, headers, time.time())
        )
        await self._pause(self.latency)
        answer = await self._answer(request.method, request.path, query, headers)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up as soon as the tenant stops."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- Graph -------------------------------------------------------------------------------

    async def _answer(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> GraphAnswer:
        """Answer one Graph request: an injected fault first, then a refusal, then the route."""
        all_headers = CIMultiDict(headers)
        call = GraphCall(method.upper(), path, query, all_headers, self._base_url(all_headers))
        fault = next((f for f in self._faults if f.applies_to(call.method, path)), None)
        if fault is not None and fault.skipped < fault.skip:
            fault.skipped += 1
            fault = None
        if fault is not None:
            fault.hits += 1
            logger.info("Fault %s answers %s %s", fault.id, call.method, path)
            await self._pause(fault.delay)
            if fault.malformed:
                return call.malformed()
            if fault.status != 200:
                return call.error(
                    fault.status, fault.code, fault.message, retry_after=fault.retry_after
                )
        for name, refusal in self._refusals.items():
            if path.startswith(SOURCE_PREFIXES[name]):
                return call.error(refusal.status, refusal.code, refusal.message)
        return await self._route(call)

    def _base_url(self, headers: CIMultiDict[str]) -> str:
        """The origin the client used, so that nextLinks work whatever name it dialled."""
        host = headers.get("Host")
        return f"http://{host}" if host else self.url

    async def _route(self, call: GraphCall) -> GraphAnswer:
        path_known = False
        for route in self._routes:
            match = route.pattern.fullmatch(call.path)
            if match is None:
                continue
            if route.method == call.method:
                return await route.handler(call, match)
            path_known = True
        if path_known:
            return call.error(405)
        segment = call.path.rstrip("/").rsplit("/", 1)[-1]
        return call.error(404, message=f"Resource not found for the segment '{segment}'.")

    async def _serve_profile_list(self, call: GraphCall, _match: re.Match[str]) -> GraphAnswer:
        try:
            offset, top = self._page_window(call.query)
        except ValueError as exc:
            return call.error(400, "BadRequest", str(exc))
        ids = list(self._profiles)
        page = ids[offset : offset + top]
        payload: dict[str, Any] = {
            "@odata.context": f"{call.base_url}/beta/$metadata#education/synchronizationProfiles",
            "value": [self._profiles[profile_id]["profile"] for profile_id in page],
        }
        if offset + top < len(ids):
            token = encode_skiptoken(offset + top, top)
            payload["@odata.nextLink"] = f"{call.base_url}{PROFILES_PATH}?$skiptoken={token}"
        return call.answer(200, payload)

    def _page_window(self, query: Mapping[str, str]) -> tuple[int, int]:
        """(offset, page size): the skiptoken carries both; an explicit $top overrides size."""
        offset, top = 0, self.page_size
        if "$skiptoken" in query:
            offset, top = decode_skiptoken(query["$skiptoken"])
        if "$top" in query:
            top = parse_top(query["$top"])
        return offset, top

    async def _serve_profile(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        entry = self._profiles.get(match["id"])
        if entry is None:
            return self._profile_not_found(call, match["id"])
        context = f"{call.base_url}/beta/$metadata#education/synchronizationProfiles/$entity"
        return call.answer(200, {"@odata.context": context, **entry["profile"]})

    async def _serve_profile_status(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        profile_id = match["id"]
        entry = self._profiles.get(profile_id)
        if entry is None:
            return self._profile_not_found(call, profile_id)
        status = dict(entry["status"])
        hidden = status.get("status") in EVOLVABLE_STATUS_MEMBERS
        if hidden and not prefers_unknown_enum_members(call.headers):
            status["status"] = "unknownFutureValue"
        context = (
            f"{call.base_url}/beta/$metadata#education/synchronizationProfiles"
            f"('{profile_id}')/profileStatus/$entity"
        )
        return call.answer(200, {"@odata.context": context, **status})

    @staticmethod
    def _profile_not_found(call: GraphCall, profile_id: str) -> GraphAnswer:
        message = f"The synchronization profile '{profile_id}' was not found."
        return call.error(404, "ResourceNotFound", message)


# -- control API -----------------------------------------------------------------------------

FAULT_FIELDS = {
    "path": "path",
    "status": "status",
    "retryAfter": "retry_after",
    "times": "times",
    "delay": "delay",
    "malformed": "malformed",
    "code": "code",
    "message": "message",
    "method": "method",
    "skip": "skip",
}


def control_error(exception: type[web.HTTPException], message: str) -> web.HTTPException:
    """An aiohttp HTTP exception carrying a Graph-shaped JSON error, for the control API."""
    code, _ = default_error(exception.status_code)
    body = json.dumps({"error": {"code": code, "message": message}})
    return exception(text=body, content_type="application/json")


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (an empty body counts as ``{}``)."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise control_error(web.HTTPBadRequest, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise control_error(web.HTTPBadRequest, "The body must be a JSON object.")
    return body


class ControlApi:
    """``/_tenant/`` endpoints: steer a tenant that runs in another process."""

    def __init__(self, tenant: SimulatedTenant) -> None:
        self._tenant = tenant

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_tenant/health", self.health),
            web.get("/_tenant/profiles", self.list_profiles),
            web.post("/_tenant/profiles", self.add_profile),
            web.patch("/_tenant/profiles/{id}/profileStatus", self.patch_status),
            web.delete("/_tenant/profiles/{id}", self.remove_profile),
            web.get("/_tenant/faults", self.list_faults),
            web.post("/_tenant/faults", self.add_fault),
            web.delete("/_tenant/faults", self.clear_faults),
            web.post("/_tenant/sources/{name}/refuse", self.refuse_source),
            web.delete("/_tenant/sources/{name}/refuse", self.restore_source),
            web.get("/_tenant/requests", self.list_requests),
            web.delete("/_tenant/requests", self.clear_requests),
            web.route("*", "/_tenant/{tail:.*}", self.unknown),
        ]

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def list_profiles(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": list(self._tenant.profiles.values())})

    async def add_profile(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        profile_id = body.get("id")
        display_name = body.get("displayName", "")
        state = body.get("state", "provisioned")
        status = body.get("status")
        if not (isinstance(profile_id, str) and profile_id):
            raise control_error(web.HTTPBadRequest, "'id' must be a non-empty string.")
        if not (isinstance(display_name, str) and isinstance(state, str)):
            raise control_error(web.HTTPBadRequest, "'displayName' and 'state' must be strings.")
        if status is not None and not isinstance(status, dict):
            raise control_error(web.HTTPBadRequest, "'status' must be a JSON object.")
        self._tenant.add_profile(profile_id, display_name, state, status)
        return web.json_response(self._tenant.get_profile(profile_id), status=201)

    async def patch_status(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["id"]
        changes = await read_object(request)
        try:
            self._tenant.set_status(profile_id, **changes)
        except KeyError:
            raise self._unknown_profile(profile_id) from None
        return web.json_response(self._tenant.get_profile(profile_id)["status"])

    async def remove_profile(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["id"]
        try:
            self._tenant.remove_profile(profile_id)
        except KeyError:
            raise self._unknown_profile(profile_id) from None
        return web.Response(status=204)

    async def list_faults(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": [fault.to_json() for fault in self._tenant.faults]})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - set(FAULT_FIELDS))
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown fault properties: {unknown}.")
        if "path" not in body:
            raise control_error(web.HTTPBadRequest, "A fault needs a 'path' regex.")
        options = {FAULT_FIELDS[name]: value for name, value in body.items() if name != "path"}
        try:
            fault = self._tenant.add_fault(body["path"], **options)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(fault.to_json(), status=201)

    async def clear_faults(self, _request: web.Request) -> web.Response:
        self._tenant.clear_faults()
        return web.Response(status=204)

    async def refuse_source(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - {"status", "code", "message"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown refusal properties: {unknown}.")
        name = request.match_info["name"]
        if name not in SOURCE_PREFIXES:
            raise control_error(web.HTTPNotFound, f"Unknown source {name!r}.")
        try:
            self._tenant.refuse_source(name, **body)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.Response(status=204)

    async def restore_source(self, request: web.Request) -> web.Response:
        try:
            self._tenant.restore_source(request.match_info["name"])
        except ValueError as exc:
            raise control_error(web.HTTPNotFound, str(exc)) from None
        return web.Response(status=204)

    async def list_requests(self, _request: web.Request) -> web.Response:
        recorded = [request.to_json() for request in self._tenant.requests]
        return web.json_response({"value": recorded})

    async def clear_requests(self, _request: web.Request) -> web.Response:
        self._tenant.clear_requests()
        return web.Response(status=204)

    async def unknown(self, request: web.Request) -> web.Response:
        raise control_error(
            web.HTTPNotFound, f"No control endpoint {request.method} {request.path}."
        )

    @staticmethod
    def _unknown_profile(profile_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No profile with id {profile_id!r}.")


# -- generated tenants -----------------------------------------------------------------------

STATUS_MESSAGES = {
    "success": "Processed {processed} in the last hour.\r\nUpdated {updated} in the last hour.",
    "inProgress": "Processed {processed} in the last hour.\r\nUpdated {updated} in the last hour.",
    "extracting": "Extracting data from the source.\r\nRead {processed} records so far.",
    "validating": "Validating {processed} records.\r\n{errors} errors found so far.",
    "error": (
        "Sync stopped: {errors} records failed validation.\r\n"
        "Download the error report from the profile's errors."
    ),
    "validationError": (
        "The source files failed validation.\r\nSchool.csv: the column 'SIS ID' is missing."
    ),
    "quarantined": (
        "Profile quarantined: the sync would remove more than 50% of users.\r\n"
        "Review the source data, then resume the profile."
    ),
    "paused": "Paused by an administrator.\r\nResume the profile to continue syncing.",
}

# Statuses of ``--profiles`` tenants, weighted roughly like a district's morning.
GENERATED_STATUSES = (
    ("success", 60),
    ("inProgress", 12),
    ("extracting", 4),
    ("validating", 4),
    ("error", 10),
    ("validationError", 3),
    ("quarantined", 3),
    ("paused", 4),
)
FAILED_STATUSES = frozenset({"error", "validationError", "quarantined"})

# Display names in SDS often carry typographic dashes: they keep clients honest about non-ASCII.
DASH = "\N{EN DASH}"
DEMO_SCHOOLS = (
    (f"Contoso High School {DASH} SIS roster", "success", 0),
    (f"Fabrikam Middle School {DASH} SIS roster", "inProgress", 0),
    (f"Northwind Elementary {DASH} PowerSchool export", "extracting", 0),
    (f"Tailspin Toys Academy {DASH} Skyward sync", "validating", 0),
    (f"Woodgrove Primary {DASH} CSV upload", "error", 17),
    (f"Alpine Ski School {DASH} OneRoster API", "quarantined", 412),
    (f"Litware Charter School {DASH} CSV upload", "paused", 0),
    (f"Adventure Works Prep {DASH} SIS roster", "success", 2),
)
# Chance that a demo profile changes on a tick, and that a running sync fails.
DEMO_CHANGE_ODDS = 0.5
DEMO_FAILURE_ODDS = 0.08
# Profiles in these statuses keep syncing on schedule; the others wait for an administrator.
CYCLING_STATUSES = frozenset({"success", "inProgress", "extracting", "validating"})
EVOLVING_STATUSES = CYCLING_STATUSES | {"error"}


def random_offset_ns(rng: random.Random, low_seconds: int, high_seconds: int) -> int:
    """A random duration in 100-ns ticks, so generated timestamps use all 7 digits."""
    return rng.randrange(low_seconds * 10_000_000, high_seconds * 10_000_000) * 100


def status_message(status: str, rng: random.Random, errors: int) -> str:
    """A statusMessage like SDS writes them: two lines separated by CRLF."""
    processed = rng.randrange(0, 5000)
    template = STATUS_MESSAGES.get(status, STATUS_MESSAGES["success"])
    return template.format(
        processed=processed, updated=rng.randrange(0, processed + 1), errors=errors
    )


def make_status(
    profile_id: str, status: str, rng: random.Random, now_ns: int, errors: int = 0
) -> dict[str, Any]:
    """A realistic profileStatus: only a success moves lastSynchronizationDateTime forward."""
    last_activity = now_ns - random_offset_ns(rng, 1, 600)
    last_sync = (
        last_activity if status == "success" else now_ns - random_offset_ns(rng, 3600, 259200)
    )
    return {
        "id": profile_id,
        "status": status,
        "lastSynchronizationDateTime": graph_timestamp(last_sync),
        "lastActivityDateTime": graph_timestamp(last_activity),
        "errorCount": errors,
        "statusMessage": status_message(status, rng, errors),
    }


def populate_profiles(tenant: SimulatedTenant, count: int, seed: int) -> list[str]:
    """Add ``count`` profiles whose ids and statuses depend only on ``seed`` and the index."""
    rng = random.Random(seed)
    now = time.time_ns()
    names, weights = zip(*GENERATED_STATUSES, strict=True)
    ids = []
    for index in range(count):
        profile_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/{index}"))
        status = rng.choices(names, weights)[0]
        errors = rng.randrange(1, 200) if status in FAILED_STATUSES else 0
        tenant.add_profile(
            profile_id,
            f"School {index + 1:04d} {DASH} SIS roster",
            status=make_status(profile_id, status, rng, now, errors),
        )
        ids.append(profile_id)
    return ids


def populate_demo(tenant: SimulatedTenant, rng: random.Random) -> list[str]:
    """Add the demo schools, one in each interesting state; returns their ids."""
    now = time.time_ns()
    ids = []
    for name, status, errors in DEMO_SCHOOLS:
        profile_id = str(uuid.uuid5(ID_NAMESPACE, f"demo/{name}"))
        tenant.add_profile(
            profile_id, name, status=make_status(profile_id, status, rng, now, errors)
        )
        ids.append(profile_id)
    return ids


def next_demo_status(current: str, roll: float) -> str:
    """Where a demo profile goes on a tick: round the sync cycle, with the odd failure.

    Paused, quarantined and unknown statuses stay put: they wait for an administrator.
    """
    if current in CYCLING_STATUSES and roll < DEMO_FAILURE_ODDS:
        return "error"
    match current:
        case "extracting":
            return "validating"
        case "validating":
            return "inProgress"
        case "inProgress":
            return "success" if roll < 0.7 else "inProgress"
        case "success":
            return "inProgress" if roll < 0.4 else "success"
        case "error":
            return "inProgress" if roll < 0.5 else "error"
        case _:
            return current


def evolve_status(status: Mapping[str, Any], rng: random.Random, now_ns: int) -> dict[str, Any]:
    """The changes one demo tick makes to a status ({} when the profile stays put)."""
    current = status.get("status")
    if current not in EVOLVING_STATUSES:
        return {}
    following = next_demo_status(current, rng.random())
    errors = status.get("errorCount")
    errors = errors if isinstance(errors, int) else 0
    if following == "error":
        errors += rng.randrange(1, 25)
    elif current == "error":
        errors = rng.randrange(0, errors + 1)
    now = graph_timestamp(now_ns)
    changes: dict[str, Any] = {
        "status": following,
        "lastActivityDateTime": now,
        "errorCount": errors,
        "statusMessage": status_message(following, rng, errors),
    }
    if following == "success":
        changes["lastSynchronizationDateTime"] = now
    return changes


def demo_tick(tenant: SimulatedTenant, ids: Sequence[str], rng: random.Random) -> None:
    """Advance some of the demo profiles, so that a poller sees Graph change under it."""
    now = time.time_ns()
    for profile_id in ids:
        if rng.random() >= DEMO_CHANGE_ODDS:
            continue
        try:
            status = tenant.get_profile(profile_id)["status"]
        except KeyError:
            continue  # removed through the control API
        changes = evolve_status(status, rng, now)
        if changes:
            tenant.set_status(profile_id, **changes)
            logger.info(
                "Demo: profile %s %s -> %s (errorCount %s)",
                profile_id,
                status.get("status"),
                changes["status"],
                changes["errorCount"],
            )


async def run_demo(
    tenant: SimulatedTenant, ids: Sequence[str], interval: float, rng: random.Random
) -> None:
    """Tick the demo every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        demo_tick(tenant, ids, rng)


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.graph_tenant",
        description="Serve a simulated Microsoft Graph tenant with School Data Sync profiles.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7072, help="0 picks a free port")
    parser.add_argument("--profiles", type=int, default=0, help="generated profiles to add")
    parser.add_argument("--demo", action="store_true", help="add demo schools that change")
    parser.add_argument("--demo-interval", type=float, default=20.0, help="seconds per change")
    parser.add_argument("--page-size", type=int, default=100, help=f"1 to {MAX_TOP}")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to each answer")
    parser.add_argument("--seed", type=int, default=1, help="seed of generated data")
    args = parser.parse_args(argv)
    if not 1 <= args.page_size <= MAX_TOP:
        parser.error(f"--page-size must be 1 to {MAX_TOP}")
    if args.profiles < 0 or args.latency_ms < 0 or args.demo_interval <= 0:
        parser.error("--profiles and --latency-ms cannot be negative, --demo-interval must be > 0")
    return args


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM, announcing the URL on stdout for the parent process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tenant = SimulatedTenant(page_size=args.page_size, latency=args.latency_ms / 1000)
    populate_profiles(tenant, args.profiles, args.seed)
    rng = random.Random(args.seed)
    demo_ids = populate_demo(tenant, rng) if args.demo else []
    url = await tenant.start(args.host, args.port)
    print(f"GRAPH_TENANT_URL={url}", flush=True)
    logger.info("Serving %d profiles; demo %s", len(tenant.profiles), "on" if args.demo else "off")
    demo = (
        asyncio.create_task(run_demo(tenant, demo_ids, args.demo_interval, rng))
        if demo_ids
        else None
    )
    try:
        await stop.wait()
    finally:
        if demo is not None:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo
        await tenant.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        logger.error("Cannot serve on %s:%s: %s", args.host, args.port, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
