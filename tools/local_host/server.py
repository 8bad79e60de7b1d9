"""The host itself: one aiohttp low-level server for the functions' routes and /admin.

Everything that can be prepared is prepared in the constructor (route regexes sorted by
precedence, schedules parsed, canned error bodies), so a request costs a route match, an
optional key check, the two conversions and the handler. aiohttp's low-level ``Server`` is
used rather than ``web.Application`` because the host has its own router and needs no
middleware, signals or sub-apps.

Admin API (as the Functions host offers it, key-protected like ``admin`` functions):

- ``POST /admin/functions/{name}`` with ``{"input": ""}``: 202 and a background run of a
  non-HTTP function (a timer gets a ``TimerRequest``, ``input`` not used; a queue function a
  ``QueueMessage`` whose body is ``input``, not taken from its queue). If a timer function
  is already running, the answer is still 202, and the run is skipped and logged, as a timer
  tick would be. 404 for an unknown name, 400 for an HTTP function.
- ``GET /admin/functions``, ``GET /admin/functions/{name}``: names, triggers, URLs.
- ``GET /admin/host/status``: ``{"id", "state", "version", "processUptime", ...}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import unquote

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import LineTooLong
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from . import keys, logs
from .http import error_response, to_func_request, to_web_response
from .invoker import PROGRAMMATIC_REASON, Invoker
from .logs import ACCESS_LOGGER, UNREADABLE, RedactingAccessLogger
from .queue_bindings import resolve_queue_bindings
from .queues import DEFAULT_LEASE_SECONDS, QueueListeners
from .registry import QUEUE_TRIGGER, TIMER_TRIGGER, FunctionSpec
from .routes import MethodNotAllowed, Route, RouteTable, compile_template
from .settings import HostConfig
from .timers import TimerScheduler, parse_schedule

__all__ = ["HOST_VERSION", "LocalHost"]

logger = logging.getLogger(__name__)

HOST_VERSION = "1.0.0"
_ADMIN_FUNCTIONS = "/admin/functions"


class LocalHost:
    """Serves one app's functions; build it once, then :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        config: HostConfig,
        functions: Sequence[FunctionSpec],
        settings: Mapping[str, str],
        *,
        grace: float = 5.0,
        on_stop: Callable[[], Awaitable[None]] | None = None,
        queue_lease: int = DEFAULT_LEASE_SECONDS,
    ) -> None:
        """``settings`` resolve %SETTING% schedules and queue names, and hold the queues'
        connection strings; ``grace`` is how long stop() waits; ``on_stop`` is awaited last,
        when nothing of the app runs any more; ``queue_lease`` is how long (s) a queue
        message stays hidden while its function runs (renewed at half time)."""
        self._config = config
        self._grace = grace
        self._on_stop = on_stop
        self._keys = config.keys
        self._functions = {spec.name.lower(): spec for spec in functions}
        self._routes = RouteTable(
            Route(
                compile_template(config.route_prefix, spec.route),
                frozenset(spec.methods) if spec.methods else None,
                spec,
            )
            for spec in functions
            if spec.is_http
        )
        self._invoker = Invoker()
        self._scheduler = TimerScheduler(
            self._invoker,
            (
                (spec, parse_schedule(str(spec.trigger.schedule), settings, spec.name))
                for spec in functions
                if spec.trigger_type == TIMER_TRIGGER
            ),
        )
        bindings = resolve_queue_bindings(functions, settings)
        self._queue_bindings = {binding.spec.name: binding for binding in bindings}
        self._queues = QueueListeners(self._invoker, bindings, config.queues, lease=queue_lease)
        self._started = time.monotonic()
        self._state = "Initialized"
        self._runner: web.ServerRunner | None = None
        self._id = socket.gethostname().lower()[:32] or "localhost"

    @property
    def invoker(self) -> Invoker:
        return self._invoker

    async def start(self, host: str, port: int) -> int:
        """Listen, start the timers and queue listeners; return the bound port (useful with
        port 0)."""
        logs.install()
        server = _JsonErrorServer(
            self.handle,
            request_factory=self._make_request,
            access_log=ACCESS_LOGGER,
            access_log_class=RedactingAccessLogger,
        )
        self._runner = web.ServerRunner(server, shutdown_timeout=self._grace)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        bound = int(self._runner.addresses[0][1])
        self._state = "Running"
        self._scheduler.start()
        self._queues.start()
        return bound

    async def stop(self) -> int:
        """Stop timers, queue polling and listening, wait for runs in progress (queue
        invocations among them); return how many are left."""
        self._state = "Stopping"
        await asyncio.gather(self._scheduler.stop(), self._queues.stop())
        if self._runner is not None:
            await self._runner.cleanup()
        left = await self._invoker.drain(self._grace)  # queue invocations included
        await self._queues.close()
        self._invoker.close()
        if self._on_stop is not None:
            try:
                await self._on_stop()
            except Exception:
                logger.exception("The app's stop hook failed")
        self._state = "Stopped"
        return left

    def describe(self, base_url: str) -> list[str]:
        """The ``Functions:`` listing Core Tools prints at start-up."""
        lines = ["Functions:"]
        for spec in self._functions.values():
            if spec.is_http:
                methods = f"[{','.join(spec.methods)}] " if spec.methods else ""
                lines.append(f"  {spec.name}: {methods}{self._url(base_url, spec)}")
            else:
                lines.append(f"  {spec.name}: {spec.trigger_type}")
        return lines

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.rel_url.raw_path
        if path.startswith("/admin/"):
            return await self._admin(request, path)
        found = self._routes.match(request.method, path)
        if found is None:
            return error_response(
                404, "NotFound", f"No function matches {request.method} {request.path}"
            )
        if isinstance(found, MethodNotAllowed):
            allow = ", ".join(found.allow)
            return error_response(
                405,
                "MethodNotAllowed",
                f"{request.method} is not allowed here; allowed: {allow}",
                headers={"Allow": allow},
            )
        spec = found.route.target
        if self._keys.enforced and not self._keys.allows(
            spec.auth_level, keys.presented_key(request.headers, request.rel_url.query)
        ):
            return _unauthorized()
        limit = self._config.max_body_bytes
        if (request.content_length or 0) > limit:
            # Refused before a byte of the body is read, as Azure's front end does.
            return _too_large(limit)
        try:
            func_request = await to_func_request(request, found.params)
        except web.HTTPRequestEntityTooLarge:  # a chunked body: reading stopped at the limit
            return _too_large(limit)
        try:
            result = await self._invoker.invoke(
                spec, func_request, PROGRAMMATIC_REASON, log=ACCESS_LOGGER
            )
        except Exception:  # logged with its stack trace by the invoker, never sent
            return _internal_error(spec)
        try:
            return to_web_response(result)
        except TypeError:
            logger.exception("Function '%s' returned a value that is not a response", spec.name)
            return _internal_error(spec)

    def _make_request(
        self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        """aiohttp's default request, with the host's body size limit."""
        return web.BaseRequest(
            message,
            payload,
            protocol,
            writer,
            task,
            asyncio.get_running_loop(),
            client_max_size=self._config.max_body_bytes,
        )

    async def _admin(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        if self._keys.enforced and not self._keys.allows(
            keys.ADMIN, keys.presented_key(request.headers, request.rel_url.query)
        ):
            return _unauthorized()
        path = path.rstrip("/")
        if path == "/admin/host/status":
            return self._only(request, "GET") or web.json_response(self._status())
        if path == _ADMIN_FUNCTIONS:
            return self._only(request, "GET") or web.json_response(
                [self._metadata(request, spec) for spec in self._functions.values()]
            )
        if path.startswith(_ADMIN_FUNCTIONS + "/") and path.count("/") == 3:
            name = unquote(path[len(_ADMIN_FUNCTIONS) + 1 :])
            spec = self._functions.get(name.lower())
            if spec is None:
                return error_response(404, "NotFound", f"No function named '{name}'")
            if request.method == "GET":
                return web.json_response(self._metadata(request, spec))
            return self._only(request, "GET", "POST") or await self._run(request, spec)
        return error_response(404, "NotFound", f"No admin API at {request.path}")

    async def _run(self, request: web.BaseRequest, spec: FunctionSpec) -> web.StreamResponse:
        if spec.is_http:
            return error_response(
                400, "BadRequest", f"'{spec.name}' is an HTTP function; call its route instead"
            )
        body = await request.read()
        try:
            document = json.loads(body) if body.strip() else {}
        except ValueError:
            document = None
        if not isinstance(document, dict):
            message = 'The body must be a JSON object like {"input": ""}'
            return error_response(400, "BadRequest", message)
        if spec.trigger_type == QUEUE_TRIGGER:
            given = document.get("input", "")
            body = given if isinstance(given, str) else json.dumps(given)
            message = QueueMessage(id=str(uuid.uuid4()), body=body.encode(), dequeue_count=1)
            self._invoker.start_background(spec, message, PROGRAMMATIC_REASON)
        else:
            self._invoker.start_exclusive(spec, TimerRequest(past_due=False), PROGRAMMATIC_REASON)
        return web.Response(status=202)

    def _status(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "state": self._state,
            "version": HOST_VERSION,
            "versionDetails": (
                f"tools.local_host {HOST_VERSION} (Functions v4 model), "
                f"Python {platform.python_version()}, "
                f"azure-functions {package_version('azure-functions')}"
            ),
            "computerName": socket.gethostname(),
            "processUptime": round((time.monotonic() - self._started) * 1000),
            "functions": len(self._functions),
        }

    def _metadata(self, request: web.BaseRequest, spec: FunctionSpec) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": spec.name, "trigger": spec.trigger_type}
        if spec.is_http:
            entry["invoke_url_template"] = self._url(f"{request.scheme}://{request.host}", spec)
            entry["methods"] = list(spec.methods or ())
            entry["authLevel"] = spec.auth_level
        elif spec.trigger_type == QUEUE_TRIGGER:
            binding = self._queue_bindings[spec.name]
            entry["queueName"] = binding.queue_name
            entry["connection"] = binding.connection_setting
            entry["running"] = self._queues.running(spec.name)
        else:
            entry["schedule"] = str(getattr(spec.trigger, "schedule", ""))
            entry["running"] = self._invoker.is_running(spec.name)
        return entry

    def _url(self, base_url: str, spec: FunctionSpec) -> str:
        prefix = f"/{self._config.route_prefix}" if self._config.route_prefix else ""
        route = spec.route.lstrip("~/")
        return f"{base_url}{prefix}/{route}" if route else f"{base_url}{prefix}"

    @staticmethod
    def _only(request: web.BaseRequest, *methods: str) -> web.Response | None:
        if request.method in methods:
            return None
        allow = ", ".join(methods)
        return error_response(
            405, "MethodNotAllowed", f"{request.method} is not allowed here", {"Allow": allow}
        )


def _internal_error(spec: FunctionSpec) -> web.Response:
    return error_response(
        500, "InternalServerError", f"Function '{spec.name}' failed; the host log has the details."
    )


def _unauthorized() -> web.Response:
    return error_response(
        401,
        "Unauthorized",
        "A valid function key is required: send it as the x-functions-key header "
        "or the code query parameter.",
    )


def _too_large(limit: int) -> web.Response:
    response = error_response(
        413, "RequestEntityTooLarge", f"The request body is larger than {limit} bytes."
    )
    response.force_close()  # what is left of the body is not read
    return response


class _JsonErrors(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering what fails before a request reaches the host
    (a request line or header over 8 KiB, a malformed request) in the API's error shape
    instead of plain text, and logging it without the request: aiohttp's own log of it
    quotes the raw request line, the key in ``?code=`` included (see ``logs.py``)."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp does: the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response")
        if status >= 500:
            logger.error("The host failed on a request", exc_info=exc)  # redacted by logs.py
            answer = error_response(
                status, "InternalServerError", "The host failed; it was logged."
            )
        else:  # the parser's own words would echo the request: neither logged nor sent back
            too_long = isinstance(exc, LineTooLong)
            said = "The request line or a header is over 8 KiB." if too_long else (
                "The request is not valid HTTP."
            )  # fmt: skip
            logger.warning(
                "Refused a request from %s that the host cannot read (%s): %s",
                request.remote, type(exc).__name__ if exc else status, said,
            )  # fmt: skip
            answer = error_response(status, "BadRequest", said)
        answer[UNREADABLE] = True
        answer.force_close()
        return answer


class _JsonErrorServer(web.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _JsonErrors(self, loop=self._loop, **self._kwargs)
