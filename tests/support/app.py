"""The app's functions called the way the host calls them: found through
``app.get_functions()``, given real ``func.HttpRequest`` / ``func.TimerRequest`` objects."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest


@dataclass
class Reply:
    """An HttpResponse as a caller sees it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@functools.cache
def registered_functions() -> dict[str, Any]:
    """The app's functions by name. Once per process: like the worker, index only once
    (a second ``get_functions()`` on the same app fails its duplicate-name check)."""
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


class App:
    """Calls the app's functions the way the host does: found through ``app.get_functions()``,
    given real ``func.HttpRequest`` / ``func.TimerRequest`` objects."""

    def __init__(self) -> None:
        self.functions = registered_functions()

    def route_of(self, name: str) -> tuple[str, list[str]]:
        trigger = self.functions[name].get_trigger()
        return trigger.route, [str(method.value) for method in trigger.methods]

    async def call(
        self,
        name: str,
        *,
        method: str = "GET",
        route_params: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        origin: str = "http://localhost:7071",
    ) -> Reply:
        """Call a function; its request's URL starts with ``origin``, which the host takes
        from the request's Host header (so a caller may name any)."""
        route, methods = self.route_of(name)
        assert method in methods, f"{name} does not take {method}"
        path = route
        for key, value in (route_params or {}).items():
            path = path.replace("{" + key + "}", value)
        url = f"{origin}/api/{path}"
        if params:
            url += "?" + urlencode(params, errors="surrogatepass")
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        request = func.HttpRequest(
            method=method,
            url=url,
            headers=headers or {},
            params=params or {},
            route_params=route_params or {},
            body=body or b"",
        )
        response: func.HttpResponse = await self.functions[name].get_user_function()(request)
        headers = dict(response.headers)
        if response.mimetype:  # the host turns mimetype and charset into Content-Type
            headers.setdefault("Content-Type", f"{response.mimetype}; charset={response.charset}")
        return Reply(response.status_code, headers, response.get_body())

    async def get_status(self, profile_id: str, **kwargs: Any) -> Reply:
        return await self.call("get_profile_status", route_params={"id": profile_id}, **kwargs)

    async def patch_status(
        self, profile_id: str, body: Any, *, if_match: str | None = None
    ) -> Reply:
        headers = {"Content-Type": "application/json"}
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.call(
            "update_profile_status",
            method="PATCH",
            route_params={"id": profile_id},
            headers=headers,
            body=body,
        )

    async def list_profiles(self, **params: str) -> Reply:
        return await self.call("list_synchronization_profiles", params=params)

    async def health(self) -> Reply:
        return await self.call("health")

    async def statuses(self, **params: str) -> Reply:
        return await self.call("list_statuses", params=params)

    async def jobs(self, sp_id: str) -> Reply:
        return await self.call(
            "list_synchronization_jobs", route_params={"servicePrincipalId": sp_id}
        )

    async def job(self, sp_id: str, job_id: str) -> Reply:
        return await self.call(
            "get_synchronization_job",
            route_params={"servicePrincipalId": sp_id, "jobId": job_id},
        )

    async def runs(self) -> Reply:
        return await self.call("list_industry_data_runs")

    async def run(self, run_id: str) -> Reply:
        return await self.call("get_industry_data_run", route_params={"id": run_id})

    async def run_statistics(self, run_id: str) -> Reply:
        return await self.call("get_industry_data_run_statistics", route_params={"id": run_id})

    async def poll(self) -> None:
        """Run the timer function once, as the host (or the admin API) would, then the queue
        functions for every message the round put on the queues, until they are empty."""
        timer = TimerRequest(past_due=False)
        await self.functions["poll_sync_statuses"].get_user_function()(timer)
        await self.drain_queues()

    async def drain_queues(self) -> None:
        """Run the queue functions for each message of the poll queue, then the delivery
        queue (polls ask for deliveries), until both are empty, messages still hidden (a
        round's spread, a throttled poll's delay) included. A message whose function fails
        is removed (no retry here) and its error raised once the queues are empty."""
        from azure.storage.queue.aio import QueueClient

        from shared import composition

        settings = composition.settings()
        connection = settings.storage.connection_string or ""
        queues = [
            (settings.poll_queue, "poll_tenant_from_queue"),
            (settings.delivery_queue, "deliver_events_from_queue"),
        ]
        clients = [QueueClient.from_connection_string(connection, name) for name, _ in queues]
        failures: list[BaseException] = []
        try:
            while True:
                handled = 0
                for client, (_name, function) in zip(clients, queues, strict=True):
                    handled += await self._run_queue(client, function, failures)
                if handled:
                    continue
                waiting = [await _waiting(client) for client in clients]
                if not any(waiting):
                    break
                await asyncio.sleep(0.2)
        finally:
            for client in clients:
                await client.close()
        if failures:
            raise failures[0]

    async def _run_queue(self, client: Any, function: str, failures: list[BaseException]) -> int:
        from azure.core.exceptions import ResourceNotFoundError

        handler = self.functions[function].get_user_function()
        try:
            received = [m async for m in client.receive_messages(max_messages=32,
                                                                 visibility_timeout=300)]  # fmt: skip
        except ResourceNotFoundError:
            return 0
        for message in received:
            queued = QueueMessage(
                id=message.id, body=base64.b64decode(message.content),
                dequeue_count=message.dequeue_count, pop_receipt=message.pop_receipt,
            )  # fmt: skip
            try:
                await handler(queued)
            except Exception as error:
                failures.append(error)
            except BaseException:
                # Killed mid-message (its task cancelled): as when an instance dies, the
                # message comes back once its lease ends, here at once, for its next delivery.
                await client.update_message(message, visibility_timeout=0)
                raise
            await client.delete_message(message)
        return len(received)


async def _waiting(client: Any) -> int:
    """Messages on a queue, hidden ones included (0 when it does not exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return int((await client.get_queue_properties()).approximate_message_count or 0)
    except ResourceNotFoundError:
        return 0
