"""A webhook receiver standing in for a flow, and the calls a test makes to subscribe it and
to read an item's history."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.support.app import App
from tools.processes import free_port


class Receiver:
    """A webhook receiver on a free port: records each POST and answers from a script."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.queries: list[str] = []  # each recorded event's query string, in the same order
        self.answers: list[int] = []  # statuses to answer, in order; 200 when empty
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?sig=secret"

    def sent_to(self, name: str) -> list[dict[str, Any]]:
        """The events POSTed to the URL made as ``url + "&to=" + name``."""
        return [e for q, e in zip(self.queries, self.events, strict=True) if f"to={name}" in q]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.events.append(await request.json())
            self.queries.append(request.query_string)
        return web.Response(status=status, headers={"Retry-After": "0"} if status == 429 else {})


async def subscribe(app: App, url: str, **extra: Any) -> dict[str, Any]:
    reply = await app.call(
        "create_subscription", method="POST", body={"notificationUrl": url, **extra}
    )
    assert reply.status == 201, reply.body
    body = reply.json()
    assert reply.headers["Location"] == f"http://localhost:7071/api/subscriptions/{body['id']}"
    return body


async def history(app: App, source: str, item_id: str, **params: str) -> dict[str, Any]:
    reply = await app.call(
        "get_status_history", route_params={"source": source, "id": item_id}, params=params
    )
    assert reply.status == 200, reply.body
    return reply.json()
