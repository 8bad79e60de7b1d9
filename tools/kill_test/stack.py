"""The stack the kill test runs: Azurite, the tenant and the host as separate processes, the
proxies and the receiver in between, and the calls it makes to them."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tools.kill_test.proxies import Proxy, Receiver
from tools.processes import (
    Child,
    azurite_command,
    azurite_connection_string,
    free_azurite_port,
    free_port,
    storage_names,
)

SOURCE = "educationSynchronizationProfiles"
POLL_FUNCTION = "poll_sync_statuses"
QUEUE_FUNCTIONS = ("poll_tenant_from_queue", "deliver_events_from_queue")
QUEUE_SETTINGS = ("POLL_QUEUE_NAME", "DELIVERY_QUEUE_NAME")
# A killed host's queue messages come back after this (the host's own is 10 minutes).
QUEUE_LEASE_SECONDS = 2
START_TIMEOUT = 60.0
POLL_TIMEOUT = 120.0
# Settings of the developer's shell that must not reach the stack under test.
_STRAY_PREFIXES = ("AzureWebJobs", "GRAPH_", "FUNCTIONS_", "POLL_SCHEDULE", "STATUS_TABLE_PREFIX")


class Stack:
    def __init__(self) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="kill-test-"))
        self.children: list[Child] = []
        self.host: Child | None = None
        self.host_url = ""
        self.restarts = 0
        self.storage: Proxy | None = None
        self.graph: Proxy | None = None
        self.receiver = Receiver()
        self.table_prefix = f"Kill{uuid.uuid4().hex[:12]}"
        self.http = httpx.AsyncClient(timeout=30)

    async def start(self) -> None:
        port = free_azurite_port()
        azurite = self._child("azurite", azurite_command(port), cwd=self.logs)
        azurite.wait_for_azurite(port, START_TIMEOUT)
        self._azurite_port = port
        tenant = self._child(
            "tenant", [sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--profiles", "0"]
        )
        line = tenant.wait_for_line(
            lambda text: text.startswith("GRAPH_TENANT_URL="), START_TIMEOUT
        )
        self.tenant_url = line.split("=", 1)[1].strip()
        storage_url = azurite_connection_string(port).split("TableEndpoint=")[1].split(";")[0]
        self.storage = Proxy(storage_url.rsplit("/", 1)[0])
        self.graph = Proxy(self.tenant_url, keep_host=True)
        for server in (self.storage, self.graph, self.receiver):
            await server.start()
        self._storage_port = int(self.storage.url.rsplit(":", 1)[1])
        await self.start_host()

    async def stop(self) -> None:
        await self.http.aclose()
        for server in (self.storage, self.graph, self.receiver):
            if server is not None:
                await server.stop()
        for child in reversed(self.children):
            child.stop()

    # -- the host -------------------------------------------------------------------------

    async def start_host(self) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRAY_PREFIXES)} | {
            # Tables through the proxy (the storage the test cuts), queues straight to Azurite.
            "AzureWebJobsStorage": azurite_connection_string(
                self._azurite_port, table_port=self._storage_port
            ),
            "GRAPH_BASE_URL": self.graph.url if self.graph else "",
            "GRAPH_AUTH": "none",
            "POLL_SCHEDULE": "0 0 0 1 1 *",  # polls come from the admin API only
            **storage_names(self.table_prefix),
            "ALLOW_INSECURE_WEBHOOKS": "true",  # the receiver is http on loopback
        }
        self.restarts += 1
        argv = [sys.executable, "-m", "tools.local_host", "--port", str(port),
                "--queue-lease", str(QUEUE_LEASE_SECONDS)]  # fmt: skip
        self.host = self._child(f"host-{self.restarts}", argv, env=env)
        await asyncio.to_thread(
            self.host.wait_for_line, lambda text: "Host started" in text, START_TIMEOUT
        )
        self.host_url = f"http://127.0.0.1:{port}"

    def kill_host(self) -> None:
        if self.host is not None:
            self.host.kill()

    async def trigger_poll(self) -> datetime:
        asked = datetime.now(UTC)
        reply = await self.http.post(
            f"{self.host_url}/admin/functions/{POLL_FUNCTION}", json={"input": ""}
        )
        reply.raise_for_status()
        return asked

    async def poll(self) -> None:
        """A whole round, its deliveries included: the timer's plan, started after now, and
        then nothing running and nothing left on the queues (a killed host's messages come
        back after its lease, ``QUEUE_LEASE_SECONDS``, and are done too)."""
        asked = await self.trigger_poll()
        deadline = time.monotonic() + POLL_TIMEOUT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            last = await self.last_poll()
            started = last and datetime.fromisoformat(last["startedDateTime"]) >= asked
            if started and not await self._busy():
                return
            if not started and not await self._running(POLL_FUNCTION):
                await self.trigger_poll()  # skipped while an earlier run was still going
        raise TimeoutError(f"no whole poll within {POLL_TIMEOUT:.0f} s; see {self.logs}")

    async def _busy(self) -> bool:
        """Whether a function runs or a queue holds messages (hidden ones included)."""
        for function in (POLL_FUNCTION, *QUEUE_FUNCTIONS):
            if await self._running(function):
                return True
        names = storage_names(self.table_prefix)
        return any([await self._waiting(names[setting]) for setting in QUEUE_SETTINGS])

    async def _running(self, function: str) -> bool:
        reply = await self.http.get(f"{self.host_url}/admin/functions/{function}")
        return bool(reply.json().get("running"))

    async def _waiting(self, queue: str) -> int:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue.aio import QueueClient

        connection = azurite_connection_string(self._azurite_port)
        async with QueueClient.from_connection_string(connection, queue) as client:
            try:
                properties = await client.get_queue_properties()
            except ResourceNotFoundError:
                return 0
        return int(properties.approximate_message_count or 0)

    async def last_poll(self) -> dict[str, Any] | None:
        health = (await self.http.get(f"{self.host_url}/api/health")).json()
        for entry in health.get("sources", []):
            if entry.get("source") == SOURCE:
                return entry.get("lastPoll")
        return None

    # -- the tenant and the API -------------------------------------------------------------

    async def add_profile(self, profile_id: str, status: str) -> None:
        body = {"id": profile_id, "displayName": f"School {profile_id}"}
        body["status"] = {"id": profile_id, "status": status, "errorCount": 0}
        reply = await self.http.post(f"{self.tenant_url}/_tenant/profiles", json=body)
        reply.raise_for_status()

    async def set_status(self, profile_id: str, status: str) -> None:
        path = f"{self.tenant_url}/_tenant/profiles/{profile_id}/profileStatus"
        (await self.http.patch(path, json={"status": status})).raise_for_status()

    async def remove_profile(self, profile_id: str) -> None:
        reply = await self.http.delete(f"{self.tenant_url}/_tenant/profiles/{profile_id}")
        reply.raise_for_status()

    async def subscribe(self) -> None:
        body = {"notificationUrl": f"{self.receiver.url}/hook"}
        reply = await self.http.post(f"{self.host_url}/api/subscriptions", json=body)
        reply.raise_for_status()

    async def cached_statuses(self) -> dict[str, str]:
        rows = await self._all(f"{self.host_url}/api/statuses?source={SOURCE}&$top=999")
        return {row["id"]: row["status"] for row in rows}

    async def history(self, item_id: str) -> list[dict[str, Any]]:
        return await self._all(f"{self.host_url}/api/statuses/{SOURCE}/{item_id}/history?$top=999")

    async def _all(self, url: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        next_url: str | None = url
        while next_url:
            page = (await self.http.get(next_url)).json()
            rows += page["value"]
            next_url = page.get("@odata.nextLink")
        return rows

    def _child(self, name: str, argv: list[str], **options: Any) -> Child:
        child = Child(name, argv, log_dir=self.logs, **options)
        self.children.append(child)
        return child
