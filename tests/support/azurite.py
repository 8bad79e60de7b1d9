"""Azurite as the tests use it: its connection string, a child that fails the test with its
output, and a real HTTP proxy in front of it that answers as a throttling Table service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest

from tools.processes import ChildFailed, azurite_connection_string, free_port


@contextlib.contextmanager
def child_failures_fail() -> Iterator[None]:
    """A child that does not start fails the test with its output, not a traceback."""
    try:
        yield
    except ChildFailed as error:
        pytest.fail(str(error), pytrace=False)


@dataclass
class Azurite:
    port: int

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.port)


HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@contextlib.asynccontextmanager
async def azurite_proxy(
    azurite: Azurite,
    busy: Callable[[str, bytes], bool] = lambda _path, _body: False,
    *,
    hold: Callable[[str, bytes], bool] | None = None,
    held: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """Azurite behind a real HTTP proxy that answers 503 ServerBusy (as Table Storage does
    when it throttles) to the requests ``busy(path, body)`` picks, and never answers those
    ``hold`` picks (setting ``held``: the moment to "kill" the caller); yields its
    connection string. Everything else passes through as signed."""
    from aiohttp import ClientSession, web
    from yarl import URL

    upstream = f"http://127.0.0.1:{azurite.port}"
    released = asyncio.Event()  # the proxy closes: held requests end (their caller is gone)

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        if hold is not None and hold(request.path, body):
            if held is not None:
                held.set()
            await released.wait()  # not answered while the caller lives: it is "killed" meanwhile
            return web.Response(status=503)
        if busy(request.path, body):
            return web.json_response({"odata.error": {"code": "ServerBusy"}}, status=503)
        async with (
            ClientSession() as session,
            session.request(
                request.method,
                URL(upstream + request.raw_path, encoded=True),  # as signed: not re-encoded
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                data=body or None,  # b"" would add a Content-Type: not as signed
            ) as answer,
        ):
            headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=answer.status, headers=headers, body=await answer.read())

    runner = web.ServerRunner(web.Server(forward))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        # The proxy stands for the Table service; the queues stay Azurite's own.
        yield azurite_connection_string(azurite.port, table_port=port)
    finally:
        released.set()
        await runner.cleanup()
