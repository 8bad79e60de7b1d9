"""A proxy that can hold a request (the moment to kill the host) and a webhook receiver that
can too: both run in the kill test's own event loop, between the host and what it calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web
from yarl import URL

# Headers of a hop, not of the message: the proxy sets its own.
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}

Predicate = Callable[[str, str, bytes], bool]


@dataclass
class Hold:
    """Hold the ``nth`` request ``matches`` picks; ``reached`` is set when it arrives."""

    matches: Predicate
    nth: int = 1
    seen: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)


class Server:
    """An aiohttp server on a free port of 127.0.0.1, with one held request at most."""

    def __init__(self) -> None:
        self.hold: Hold | None = None
        self._release = asyncio.Event()
        self._runner: web.ServerRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._runner = web.ServerRunner(web.Server(self._handle))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()

    def arm(self, matches: Predicate, nth: int = 1) -> asyncio.Event:
        self.hold, self._release = Hold(matches, nth), asyncio.Event()
        return self.hold.reached

    def release(self) -> None:
        """Disarm, and end the held request (its caller was killed)."""
        self.hold = None
        self._release.set()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            body = await request.read()
        except ConnectionError:  # the host was killed while it sent this
            return web.Response(status=499)
        hold = self.hold
        if hold is not None and hold.matches(request.method, request.path, body):
            hold.seen += 1
            if hold.seen == hold.nth:
                await self.before_holding(request, body)
                hold.reached.set()
                await self._release.wait()
                return web.Response(status=503)
        return await self.answer(request, body)

    async def before_holding(self, request: web.BaseRequest, body: bytes) -> None:
        """What the request does before it is held (the receiver keeps the event)."""

    async def answer(self, request: web.BaseRequest, body: bytes) -> web.StreamResponse:
        raise NotImplementedError


class Proxy(Server):
    """Forwards every request to ``upstream`` as it came (signed requests stay valid)."""

    def __init__(self, upstream: str, *, keep_host: bool = False) -> None:
        super().__init__()
        self.upstream = upstream
        # The tenant builds nextLinks from the Host it was asked for: keep it the proxy's.
        self.keep_host = keep_host
        self._session: ClientSession | None = None

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()

    async def answer(self, request: web.BaseRequest, body: bytes) -> web.StreamResponse:
        self._session = self._session or ClientSession(auto_decompress=False)
        headers = {
            name: value
            for name, value in request.headers.items()
            if self.keep_host or name.lower() != "host"
        }
        async with self._session.request(
            request.method,
            URL(self.upstream + request.raw_path, encoded=True),
            headers=headers,
            data=body or None,
        ) as upstream:
            answer = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=upstream.status, headers=answer, body=await upstream.read())


class Receiver(Server):
    """A webhook receiver: keeps every event it is sent, in the order they came, and
    acknowledges with 200 (a held one arrives, is kept, and is never acknowledged)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    async def before_holding(self, request: web.BaseRequest, body: bytes) -> None:
        self._keep(body)

    async def answer(self, request: web.BaseRequest, body: bytes) -> web.StreamResponse:
        self._keep(body)
        return web.Response(status=200)

    def _keep(self, body: bytes) -> None:
        self.events.append(json.loads(body))
