"""The simulated tenant's core: serving over aiohttp, the request log and counters, and the
one path every Graph answer takes (:meth:`SimulatedTenant._answer`), where the throttling
budget, faults and refusals of :class:`Misbehaviour` apply before routing.

One server serves several tenants (:class:`~tools.graph_tenant.tenants.Tenancy`): the request's
bearer token names the tenant (``tid``) that answers it and records it.

What the tenant serves comes from its areas (:data:`~tools.graph_tenant.areas.AREAS`): each
simulated Graph API brings its data, its Graph routes and its ``/_tenant/`` control routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict

from tools.graph_tenant.areas import AREAS
from tools.graph_tenant.batch import BATCH_PATH, SubRequest, answer_batch
from tools.graph_tenant.common import MAX_TOP, GraphAnswer, GraphCall, Route
from tools.graph_tenant.control import ControlApi, tenant_control_routes
from tools.graph_tenant.misbehaviour import Misbehaviour
from tools.graph_tenant.organization import default_organization
from tools.graph_tenant.steering import Steering
from tools.graph_tenant.tenants import DEFAULT_TENANT_ID, UNAUTHENTICATED_CODE, Tenancy

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 1.0
# What Graph's 401s ask for: a token from Entra ID for Graph's application id.
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


@dataclass(frozen=True)
class RecordedRequest:
    """One Graph request as the tenant received it, for tests that check what the app sent.

    ``batched`` marks a sub-request of a ``$batch`` (the envelope is recorded too, unmarked);
    ``tenant_id`` is the tenant that answered it (the parent for a token that names no tenant
    it serves).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    time: float
    batched: bool = False
    tenant_id: str = DEFAULT_TENANT_ID

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
            "batched": self.batched,
            "tenantId": self.tenant_id,
        }


class SimulatedTenant(Steering, Misbehaviour, Tenancy):
    """An in-memory Graph tenant served over HTTP by aiohttp.

    ``page_size`` is the listing page size when the client sends no ``$top``, and
    ``max_page_size`` the largest page it serves whatever ``$top`` asks (server-driven paging,
    as Graph does: a client must follow nextLinks even after asking for 999); ``latency`` is
    the number of seconds added to every Graph HTTP response (once per ``$batch``, not per
    sub-request). ``rate_limit`` is the throttling budget in requests per second (None: no
    limit): every Graph request beyond it, top-level or batched, answers 429 with a
    ``Retry-After`` of at least ``throttle_retry_after`` seconds. All may be changed at any time.

    ``tenant_id`` is the ``tid`` of the tokens it answers (and its organization's id; Contoso's
    organization unless ``display_name`` names another); :meth:`add_tenant` adds more tenants
    to the same server.
    """

    def __init__(
        self,
        page_size: int = 100,
        latency: float = 0.0,
        rate_limit: float | None = None,
        throttle_retry_after: int = 1,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        display_name: str | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_TOP:
            raise ValueError(f"page_size must be 1 to {MAX_TOP}, not {page_size}.")
        self.page_size = page_size
        self.max_page_size = MAX_TOP
        self.latency = latency
        self._areas = tuple(area(self) for area in AREAS)
        super().__init__(self._areas, rate_limit, throttle_retry_after)
        self._init_tenancy(tenant_id)
        if tenant_id != DEFAULT_TENANT_ID or display_name is not None:
            self.set_organization(**default_organization(tenant_id, display_name))
        self._request_count = 0
        self._subrequest_count = 0
        self._throttled_count = 0
        self._requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        # Set while stopping, so that slow answers end at once instead of holding shutdown.
        self._stopping = asyncio.Event()
        self._routes: tuple[Route, ...] = (
            *(route for area in self._areas for route in area.graph_routes()),
            Route("POST", BATCH_PATH, self._serve_batch),
        )
        self._control_routes = ControlApi(self).routes()

    def _new_tenant(self, tenant_id: str, display_name: str | None) -> SimulatedTenant:
        """A child: this tenant's page sizes, latency and budget (its own from now on), and
        this server's lifecycle."""
        child = SimulatedTenant(
            self.page_size,
            self.latency,
            self.rate_limit,
            self.throttle_retry_after,
            tenant_id=tenant_id,
            display_name=display_name or f"Tenant {tenant_id[:8]}",
        )
        child.max_page_size = self.max_page_size
        child._stopping = self._stopping
        return child

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running tenant (a child's: its parent's), without a version."""
        url = self._root._url
        if url is None:
            raise RuntimeError("The simulated tenant is not running.")
        return url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port) and return the base URL."""
        if self._parent is not None:
            raise RuntimeError("A tenant added by add_tenant is served by its parent's server.")
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

    # The areas themselves (``areas``, ``area``) and their steering methods (``add_job``,
    # ``set_organization``...) come from Steering.

    @property
    def request_count(self) -> int:
        """Graph HTTP requests received (a ``$batch`` counts 1; control calls do not count)."""
        return self._request_count

    @property
    def subrequest_count(self) -> int:
        """Sub-requests received inside ``$batch`` requests."""
        return self._subrequest_count

    @property
    def throttled_count(self) -> int:
        """429 answers given: top-level and batched, from the budget or from a fault."""
        return self._throttled_count

    def reset_counters(self) -> None:
        self._request_count = self._subrequest_count = self._throttled_count = 0

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
        app.add_routes(tenant_control_routes(self, self._control_routes))
        app.router.add_route("*", "/{tail:.*}", self._handle_graph)
        return app

    async def _handle_graph(self, request: web.Request) -> web.Response:
        """Recorded and answered by the tenant the token names (401 when it cannot)."""
        headers = CIMultiDict(request.headers)
        query = dict(request.query)
        tenant, refusal = self._tenant_for(headers)
        tenant._requests.append(
            RecordedRequest(
                request.method,
                request.path,
                query,
                headers,
                time.time(),
                tenant_id=tenant.tenant_id,
            )
        )
        tenant._request_count += 1
        body = await request.read() if request.can_read_body else b""
        await tenant._pause(tenant.latency)
        if refusal is None:
            answer = await tenant._answer(request.method, request.path, query, headers, body)
        else:
            call = GraphCall(request.method, request.path, query, headers, "", body)
            answer = call.error(401, UNAUTHENTICATED_CODE, refusal)
            answer.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up as soon as the tenant stops."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- Graph -------------------------------------------------------------------------------

    async def _answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> GraphAnswer:
        """Answer one Graph request, top-level or batched: the throttling budget first (a
        throttled request never reaches the service), then an injected fault, then a refusal,
        then the route. Every 429 it gives counts in :attr:`throttled_count`.

        A ``$batch`` envelope does not use the budget: each of its sub-requests does, when the
        batch handler answers it through this same method.
        """
        all_headers = CIMultiDict(headers)
        call = GraphCall(
            method.upper(), path, query, all_headers, self._base_url(all_headers), body
        )
        answer = await self._misbehave(call)
        if answer is None:
            answer = await self._route(call)
        if answer.status == 429:
            self._throttled_count += 1
        return answer

    async def _misbehave(self, call: GraphCall) -> GraphAnswer | None:
        """The answer of the budget, a fault or a refusal to ``call``; None to route it."""
        if BATCH_PATH.fullmatch(call.path) is None:
            retry_after = self._throttled_for()
            if retry_after is not None:
                logger.info("Budget exhausted: %s %s throttled", call.method, call.path)
                return call.error(429, retry_after=retry_after)
        fault = self._due_fault(call.method, call.path)
        if fault is not None:
            logger.info("Fault %s answers %s %s", fault.id, call.method, call.path)
            await self._pause(fault.delay)
            if fault.malformed:
                return call.malformed()
            if fault.body is not None:
                return call.answer(fault.status, fault.answer_body(call.base_url))
            if fault.status != 200:
                return call.error(
                    fault.status, fault.code, fault.message, retry_after=fault.retry_after
                )
        refusal = self._refusal_for(call.path)
        if refusal is not None:
            return call.error(refusal.status, refusal.code, refusal.message)
        return None

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

    async def _serve_batch(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """Each sub-request is recorded and counted, then answered through :meth:`_answer`."""
        return await answer_batch(
            call, match["version"], self._record_subrequest, self._answer_subrequest
        )

    def _record_subrequest(self, request: SubRequest) -> None:
        self._requests.append(
            RecordedRequest(
                request.method,
                request.path,
                request.query,
                request.headers,
                time.time(),
                batched=True,
                tenant_id=self.tenant_id,
            )
        )
        self._subrequest_count += 1

    async def _answer_subrequest(self, request: SubRequest) -> GraphAnswer:
        return await self._answer(
            request.method, request.path, request.query, request.headers, request.body
        )
