"""The Graph client: every request goes through msgraph-sdk's request adapter and the Graph
middleware pipeline (auth, retries honouring Retry-After on 429/503/504, redirects,
telemetry), as raw JSON requests checked by the sources' models. The education endpoints
were removed from the SDKs, and the typed v1.0 builders (``service_principals...
synchronization.jobs``) would parse a job into models that cut timestamps to microseconds and
drop enum members they do not know, where the cache must keep what Graph sent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.api_client_builder import register_default_deserializer
from kiota_abstractions.api_error import APIError
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options.retry_handler_option import RetryHandlerOption
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from shared.core.jsontext import parse_json
from shared.core.retry_after import MAX_RETRY_AFTER_SECONDS, retry_after_header
from shared.graph.batch import (
    MAX_BATCH_REQUESTS,
    LocalReportPacer,
    RequestPacer,
    Throttle,
    sub_responses,
)
from shared.graph.credentials import authentication_provider, make_credential
from shared.graph.errors import GraphError
from shared.graph.paging import Listing, PagingRule
from shared.settings import DEFAULT_GRAPH_MAX_PAGES, Settings

logger = logging.getLogger(__name__)

# Without this header Graph hides evolvable-enum members added after v1 (here `extracting`
# and `validating`) behind `unknownFutureValue`.
INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"

MAX_SUBREQUEST_ATTEMPTS = 5

# Error bodies are parsed into ODataError (code and message) only with this map and a JSON
# parse node factory registered.
_ERROR_MAP: dict[str, Any] = {"XXX": ODataError}


def create_graph_adapter(
    settings: Settings, http_client: httpx.AsyncClient, credential: Any = None
) -> GraphRequestAdapter:
    """The request adapter every Graph call goes through: the Graph middleware pipeline on
    ``http_client``, with a token from ``credential`` (see credentials.authentication_provider:
    none without one, the simulated token only with GRAPH_AUTH=simulated)."""
    register_default_deserializer(JsonParseNodeFactory)
    auth = authentication_provider(settings, credential)
    client = GraphClientFactory.create_with_default_middleware(client=http_client)
    adapter = GraphRequestAdapter(auth, client)
    adapter.base_url = settings.graph_base_url
    return adapter


class GraphClient:
    """Raw JSON requests to Graph through the SDK's adapter: one object, a collection's
    pages, or many objects through JSON batching.

    One per poll: it owns the HTTP connections (reused across the poll's requests) and
    closes them when the poll ends.
    """

    def __init__(
        self,
        adapter: GraphRequestAdapter,
        http_client: httpx.AsyncClient,
        *,
        max_concurrency: int = 16,
        report_pacer: RequestPacer | None = None,
        max_pages: int = DEFAULT_GRAPH_MAX_PAGES,
        deadline_seconds: float | None = None,
    ) -> None:
        self._adapter = adapter
        self._http_client = http_client
        # Requests (a $batch counts one) in flight at once, across everything this client sends.
        self._in_flight = asyncio.Semaphore(max_concurrency)
        self._throttle = Throttle()
        # Shared by the polls of every instance (the composition root's): the reports' own
        # budget; an in-process one when none is given.
        self.report_pacer: RequestPacer = report_pacer or LocalReportPacer()
        self._credential: Any = None  # closed with the client: made for it alone
        self._paging = PagingRule(adapter.base_url, max_pages)
        # A poll's client stops sending at its deadline (loop time): a slow or endless Graph
        # never starves the next timer run. None: no deadline (a route's job action).
        self._deadline = (
            None
            if deadline_seconds is None
            else asyncio.get_running_loop().time() + deadline_seconds
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        report_pacer: RequestPacer | None = None,
        deadline_seconds: float | None = None,
        credential: Any = None,
    ) -> GraphClient:
        """A client with ``credential`` (a tenant's, from the composition root's
        TenantCredentials: not closed with the client), or else the home tenant's credential
        made for this client alone (closed with it)."""
        owned = None if credential is not None else make_credential(settings, None)
        connections = settings.graph_max_concurrency + 4
        http_client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.graph_timeout_seconds),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            http2=True,
            verify=_tls_context(),
        )
        adapter = create_graph_adapter(
            settings, http_client, credential if credential is not None else owned
        )
        client = cls(
            adapter,
            http_client,
            max_concurrency=settings.graph_max_concurrency,
            report_pacer=report_pacer,
            max_pages=settings.graph_max_pages,
            deadline_seconds=deadline_seconds,
        )
        client._credential = owned
        return client

    async def close(self) -> None:
        await self._http_client.aclose()
        if self._credential is not None:  # its own: its HTTP session, and the cached tokens
            await self._credential.close()

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- JSON batching ----------------------------------------------------------------------

    async def get_many(
        self, version: str, paths: Sequence[str]
    ) -> list[dict[str, Any] | GraphError]:
        """GET each path (relative to ``/{version}``) through ``$batch``, 20 per batch, up to
        the client's concurrency in flight; results (a JSON object or a GraphError) in order.

        Graph throttles each sub-request on its own and the SDK's retry middleware only sees
        the batch's own status, so throttled sub-requests are retried here, after the
        Retry-After they carry, and every other request of this client waits too: the poll
        slows down as told instead of retrying in a storm. The batch is sent as raw JSON
        through the same adapter and middleware: msgraph-core's BatchRequestBuilder loses the
        sub-responses' JSON bodies (msgraph-sdk-python-core#835, kiota-python#737).
        """
        chunks = [
            list(range(start, min(start + MAX_BATCH_REQUESTS, len(paths))))
            for start in range(0, len(paths), MAX_BATCH_REQUESTS)
        ]
        results: list[dict[str, Any] | GraphError | None] = [None] * len(paths)

        async def run(chunk: list[int]) -> None:
            for index, result in zip(
                chunk, await self._batch(version, [paths[i] for i in chunk]), strict=True
            ):
                results[index] = result

        await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [result for result in results if result is not None]

    async def _batch(self, version: str, paths: list[str]) -> list[dict[str, Any] | GraphError]:
        """One batch of at most 20 GETs, retrying throttled sub-requests as Graph says."""
        results: dict[int, dict[str, Any] | GraphError] = {}
        pending = list(range(len(paths)))
        for attempt in range(1, MAX_SUBREQUEST_ATTEMPTS + 1):
            requests = [
                {
                    "id": str(index),
                    "method": "GET",
                    "url": paths[index],
                    "headers": {"Prefer": INCLUDE_UNKNOWN_ENUM_MEMBERS},
                }
                for index in pending
            ]
            try:
                envelope = await self._send_json(
                    Method.POST, f"{{+baseurl}}/{version}/$batch", body={"requests": requests}
                )
                answered = sub_responses(envelope, pending)
            except GraphError as error:
                if error.is_retryable or error.status in (401, 403):
                    # Throttled, or no access: every request of it shares the answer (and a
                    # throttled batch is sent again after its Retry-After, below).
                    answered = dict.fromkeys(pending, error)
                else:
                    answered = await self._one_by_one(version, paths, pending, error)
            retry: list[int] = []
            wait = 0.0
            for index, result in answered.items():
                last_attempt = attempt == MAX_SUBREQUEST_ATTEMPTS
                if isinstance(result, GraphError) and result.is_retryable and not last_attempt:
                    delay = result.retry_after if result.retry_after is not None else 2.0**attempt
                    if delay < MAX_RETRY_AFTER_SECONDS:
                        retry.append(index)
                        wait = max(wait, delay)
                        continue
                results[index] = result
            if not retry:
                break
            logger.info("Graph throttled %d of a batch; retrying in %.1f s", len(retry), wait)
            self._throttle.hold(wait)
            pending = retry
        return [results[index] for index in range(len(paths))]

    async def _one_by_one(
        self, version: str, paths: list[str], pending: list[int], error: GraphError
    ) -> dict[int, dict[str, Any] | GraphError]:
        """A batch that failed as a whole (timed out on one slow request, say, or answered
        something unreadable): ask one by one, so one bad item does not fail nineteen."""
        logger.info("A $batch failed (%s); sending its %d requests alone", error, len(pending))
        answers = await asyncio.gather(*(self._get_alone(version, paths[i]) for i in pending))
        return dict(zip(pending, answers, strict=True))

    async def _get_alone(self, version: str, path: str) -> dict[str, Any] | GraphError:
        try:
            return await self.get_json(url=f"{self._adapter.base_url}/{version}{path}")
        except GraphError as error:
            return error

    # -- generic requests -------------------------------------------------------------------

    async def get_pages(
        self, url_template: str, path_parameters: dict[str, str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's ``value`` of a Graph collection, following ``@odata.nextLink`` within
        the paging rule (Graph's own origin and version, a bound on pages): a link outside it
        ends the listing with a GraphError after the pages already yielded."""
        page: dict[str, Any] | None = await self.get_json(url_template, path_parameters)
        pages = self.listing(url_template)
        while page is not None:
            value = page.get("value")
            if not isinstance(value, list):
                raise GraphError(200, "invalidResponse", "A collection page has no 'value' array.")
            yield value
            page = await self.get_page_after(page, pages)

    async def get_page_after(
        self, page: dict[str, Any], pages: Listing, *, once: bool = False
    ) -> dict[str, Any] | None:
        """The page after ``page`` of a listing read page by page (``pages`` from
        :meth:`listing`), or None when it was the last; the paging rule as in get_pages."""
        next_link = pages.next_link(page)
        return None if next_link is None else await self.get_json(url=next_link, once=once)

    def listing(self, url_template: str) -> Listing:
        """The paging state of one listing whose first page came from ``url_template``."""
        return self._paging.listing(url_template)

    async def get_json(
        self,
        url_template: str | None = None,
        path_parameters: dict[str, str] | None = None,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
        once: bool = False,
    ) -> dict[str, Any]:
        """GET a JSON object; any failure (HTTP error, timeout, bad JSON) is a GraphError.
        ``once``: never retried by the SDK (a report request, each try of which must take its
        own grant of the report budget first)."""
        return await self._send_json(
            Method.GET, url_template, path_parameters, url=url, headers=headers, once=once
        )

    async def post_action(
        self,
        url_template: str,
        path_parameters: dict[str, str],
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """POST an action Graph answers with 204 No Content (a job's start, pause, restart);
        any failure is a GraphError. Sent once: an action is not safe to repeat (a restart
        that timed out may have happened), so the caller decides."""
        info = self._request(Method.POST, url_template, path_parameters, None, headers, body)
        info.add_request_options([RetryHandlerOption(max_retries=0, should_retry=False)])
        async with self._sending():
            await self._adapter.send_no_response_content_async(info, _ERROR_MAP)

    async def _send_json(
        self,
        method: Method,
        url_template: str | None,
        path_parameters: dict[str, str] | None = None,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        once: bool = False,
    ) -> dict[str, Any]:
        info = self._request(method, url_template, path_parameters, url, headers, body)
        info.headers.try_add("Accept", "application/json")
        if once:
            info.add_request_options([RetryHandlerOption(max_retries=0, should_retry=False)])
        async with self._sending():
            payload = await self._adapter.send_primitive_async(info, "bytes", _ERROR_MAP)
        try:
            document = parse_json(payload or b"")
        except ValueError as error:
            raise GraphError(
                200, "invalidJson", f"Graph sent a body that is not JSON: {error}."
            ) from error
        if not isinstance(document, dict):
            raise GraphError(200, "invalidResponse", "Graph sent JSON that is not an object.")
        return document

    @staticmethod
    def _request(
        method: Method,
        url_template: str | None,
        path_parameters: dict[str, str] | None,
        url: str | None,
        headers: dict[str, str] | None,
        body: Any,
    ) -> RequestInformation:
        info = RequestInformation(method, url_template, path_parameters)
        if url is not None:
            info.url = url  # an absolute link Graph gave (nextLink), used as is
        # Every source has evolvable enums (status, code, state): ask for all their members.
        info.headers.try_add("Prefer", INCLUDE_UNKNOWN_ENUM_MEMBERS)
        for name, value in (headers or {}).items():
            info.headers.try_add(name, value)
        if body is not None:
            info.set_stream_content(json.dumps(body).encode(), "application/json")
        return info

    @asynccontextmanager
    async def _sending(self) -> AsyncIterator[None]:
        """One request in flight (within the client's bound, after any Retry-After), its
        failures as GraphErrors."""
        try:
            async with asyncio.timeout_at(self._deadline), self._in_flight:
                # Inside the slot: requests queued for one must still wait for a Retry-After
                # that arrived while they queued.
                await self._throttle.wait()
                yield
        except TimeoutError as error:
            if self._deadline is None or asyncio.get_running_loop().time() < self._deadline:
                raise
            raise GraphError(
                None,
                "pollDeadlineExceeded",
                "The poll's time to read Graph ran out (POLL_DEADLINE_SECONDS); what was read "
                "is kept and the rest is asked again at the next poll.",
            ) from error
        except APIError as error:
            raise _graph_error(error) from error
        except ClientAuthenticationError as error:
            # No token (identity missing or not allowed): the poll reports it like a refusal.
            message = f"No token for Graph: {error.message}"
            raise GraphError(None, "authenticationFailed", message) from error
        except httpx.TimeoutException as error:
            raise GraphError(
                None, "timeout", f"Graph did not answer in time ({error!r})."
            ) from error
        except httpx.TransportError as error:
            raise GraphError(
                None, "connectionError", f"Graph could not be reached: {error}."
            ) from error


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the CA bundle read once) for every Graph client of the process: a
    client is made per tenant and poll, and reading the bundle takes tens of ms of CPU."""
    return httpx.create_ssl_context()


def _graph_error(error: APIError) -> GraphError:
    status = error.response_status_code
    main = getattr(error, "error", None)  # ODataError's MainError, when the body parsed
    code = getattr(main, "code", None) or f"http{status}"
    message = getattr(main, "message", None) or f"Graph answered HTTP {status}."
    headers = error.response_headers or {}
    return GraphError(status, code, message, retry_after=retry_after_header(headers))
