"""Shared fixtures: Azurite on a free port, the simulated Graph tenant, and the app's real
handlers as the FunctionApp registers them.

Each test gets its own table prefix, so tests stay isolated on one Azurite and can run in
parallel (pytest-xdist starts one Azurite per worker).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

# Tests import free_port and azurite_connection_string from here too.
from tools.processes import (
    AZURITE_TABLE,
    Child,
    ChildFailed,
    azurite_command,
    azurite_connection_string,
    free_port,
)

AZURITE_START_TIMEOUT = 30.0
SEED_ID = "86904b1e-c7d0-4ead-b13a-98f11fc400ee"
# The example response of Graph's "Get educationSynchronizationProfileStatus" page.
SEED = {
    "id": SEED_ID,
    "status": "inProgress",
    "lastSynchronizationDateTime": "2021-07-13T20:55:17.6475128Z",
    "lastActivityDateTime": "2021-07-13T20:55:17.6475128Z",
    "errorCount": 0,
    "statusMessage": "Processed 0 in the last hour.\r\nUpdated 0 in the last hour.",
}

# The JSON representation on Graph's synchronizationStatus resource page, verbatim.
SYNC_STATUS_EXAMPLE = {
    "@odata.type": "#microsoft.graph.synchronizationStatus",
    "countSuccessiveCompleteFailures": 1024,
    "escrowsPruned": True,
    "code": "String",
    "lastExecution": {
        "@odata.type": "microsoft.graph.synchronizationTaskExecution",
        "activityIdentifier": "String",
        "countEntitled": 1024,
        "countEntitledForProvisioning": 1024,
        "countEscrowed": 1024,
        "countEscrowedRaw": 1024,
        "countExported": 1024,
        "countExports": 1024,
        "countImported": 1024,
        "countImportedDeltas": 1024,
        "countImportedReferenceDeltas": 1024,
        "state": "String",
        "error": {
            "@odata.type": "microsoft.graph.synchronizationError",
            "code": "String",
            "message": "String",
            "tenantActionable": True,
        },
        "timeBegan": "String (timestamp)",
        "timeEnded": "String (timestamp)",
    },
    "lastSuccessfulExecution": {"@odata.type": "microsoft.graph.synchronizationTaskExecution"},
    "lastSuccessfulExecutionWithExports": {
        "@odata.type": "microsoft.graph.synchronizationTaskExecution"
    },
    "progress": [
        {
            "@odata.type": "microsoft.graph.synchronizationProgress",
            "completedUnits": 1024,
            "progressObservationDateTime": "String (timestamp)",
            "totalUnits": 1024,
            "units": "String",
        }
    ],
    "quarantine": {
        "@odata.type": "microsoft.graph.synchronizationQuarantine",
        "currentBegan": "String (timestamp)",
        "nextAttempt": "String (timestamp)",
        "reason": "String",
        "seriesBegan": "String (timestamp)",
        "seriesCount": 1024,
    },
    "steadyStateFirstAchievedTime": "String (timestamp)",
    "steadyStateLastAchievedTime": "String (timestamp)",
    "synchronizedEntryCountByType": [
        {"@odata.type": "microsoft.graph.stringKeyLongValuePair", "key": "String", "value": 1024}
    ],
    "troubleshootingUrl": "String",
}


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


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """The Azurite Table service from node_modules (``make test`` runs ``npm ci`` first)."""
    if not AZURITE_TABLE.exists():
        pytest.fail(f"{AZURITE_TABLE} is missing: run `npm ci` (make test does).")
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    # Azurite writes its debug files in its working directory.
    child = Child("azurite", azurite_command(port), cwd=workdir, log_dir=workdir)
    try:
        with child_failures_fail():
            child.wait_for_port(port, AZURITE_START_TIMEOUT)
        yield Azurite(port)
    finally:
        child.stop()


@pytest.fixture
def table_prefix() -> str:
    return f"T{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def tenant() -> AsyncIterator[Any]:
    """The simulated Graph tenant, in this test's event loop, on a free port."""
    from tools.graph_tenant import SimulatedTenant

    async with SimulatedTenant() as simulated:
        yield simulated


@pytest.fixture
def app_settings(
    monkeypatch: pytest.MonkeyPatch, azurite: Azurite, table_prefix: str, tenant: Any
) -> dict[str, str]:
    """App settings pointing at this test's Azurite tables and simulated tenant."""
    from shared.settings import get_settings

    values = {
        "AzureWebJobsStorage": azurite.connection_string,
        "STATUS_TABLE_PREFIX": table_prefix,
        "GRAPH_BASE_URL": tenant.url,
        "GRAPH_AUTH": "none",
        "GRAPH_TIMEOUT_SECONDS": "2",
        "POLL_SCHEDULE": "0 */5 * * * *",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


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
    ) -> Reply:
        route, methods = self.route_of(name)
        assert method in methods, f"{name} does not take {method}"
        path = route
        for key, value in (route_params or {}).items():
            path = path.replace("{" + key + "}", value)
        url = f"http://localhost:7071/api/{path}"
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
        """Run the timer function once, as the host (or the admin API) would."""
        timer = TimerRequest(past_due=False)
        await self.functions["poll_sync_statuses"].get_user_function()(timer)


@pytest.fixture
async def app(app_settings: dict[str, str]) -> AsyncIterator[App]:
    yield App()
    from shared.store import close_status_store

    await close_status_store()  # this test's event loop ends with it


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read a developer's real settings by accident."""
    for name in list(os.environ):
        if name.startswith("AzureWebJobsStorage") or name.startswith("GRAPH_"):
            monkeypatch.delenv(name, raising=False)


HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@contextlib.asynccontextmanager
async def azurite_proxy(azurite: Azurite, busy: Callable[[str, bytes], bool]) -> AsyncIterator[str]:
    """Azurite behind a real HTTP proxy that answers 503 ServerBusy (as Table Storage does
    when it throttles) to the requests ``busy(path, body)`` picks; yields its connection
    string. Everything else passes through as signed."""
    from aiohttp import ClientSession, web
    from yarl import URL

    upstream = f"http://127.0.0.1:{azurite.port}"

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
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
        yield azurite_connection_string(port)
    finally:
        await runner.cleanup()
