"""Unit tests of the local Functions host (tools/local_host), against a real sample app.

Most tests serve ``sample_app/function_app.py`` in-process on a free port and talk to it
over HTTP; the start-up and SIGTERM test runs the real CLI in a subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import aiohttp
import httpx
import pytest
from azure.functions.decorators.timer import TimerTrigger
from azure.functions.timer import TimerRequest

from tools.local_host.keys import Keys
from tools.local_host.registry import FunctionSpec, discover
from tools.local_host.routes import (
    MethodNotAllowed,
    Route,
    RouteMatch,
    RouteTable,
    RouteTemplateError,
    compile_template,
)
from tools.local_host.server import LocalHost
from tools.local_host.settings import (
    HostConfig,
    HostConfigError,
    LocalSettings,
    apply_values,
    read_local_settings,
    read_route_prefix,
    resolve_port,
)
from tools.local_host.timers import (
    CronSchedule,
    IntervalSchedule,
    TimerScheduler,
    parse_schedule,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = Path(__file__).resolve().parent / "sample_app"
FAR_AWAY = {"SAMPLE_SCHEDULE": "0 0 0 1 1 *"}
GUID = "6f1c2b1e-8d7a-4a7e-9a53-1c0e3d1b2a44"


@pytest.fixture(scope="module")
def sample() -> ModuleType:
    """The sample app, imported under its own module name (no sys.path or cwd changes)."""
    spec = importlib.util.spec_from_file_location(
        "local_host_sample_app", SAMPLE_DIR / "function_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def functions(sample: ModuleType) -> list[FunctionSpec]:
    # get_functions() may be called once per FunctionApp, so the specs are shared.
    return discover(sample.app, SAMPLE_DIR)


@pytest.fixture(autouse=True)
def _fresh_ticks(sample: ModuleType) -> None:
    sample.TICKS.clear()
    sample.TICK_SECONDS = 0.0


@contextlib.asynccontextmanager
async def serving(
    functions: list[FunctionSpec],
    *,
    keys: Keys | None = None,
    prefix: str = "api",
    settings: dict[str, str] | None = None,
    max_body_bytes: int = 100 * 1024 * 1024,
) -> AsyncIterator[tuple[LocalHost, aiohttp.ClientSession]]:
    config = HostConfig(SAMPLE_DIR, prefix, keys or Keys(), max_body_bytes)
    host = LocalHost(config, functions, settings or FAR_AWAY, grace=2.0)
    port = await host.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            yield host, client
    finally:
        await host.stop()


@pytest.fixture
async def client(functions: list[FunctionSpec]) -> AsyncIterator[aiohttp.ClientSession]:
    async with serving(functions) as (_, session):
        yield session


async def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls state owned by the app under test
            await asyncio.sleep(0.02)


async def wait_until_idle(client: aiohttp.ClientSession, name: str) -> None:
    """A run has ended once the admin API no longer reports it as running."""
    async with asyncio.timeout(5):
        while True:
            async with client.get(f"/admin/functions/{name}") as response:
                if not (await response.json())["running"]:
                    return
            await asyncio.sleep(0.02)


# --- route templates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("items/{id}", "/api/items/42", {"id": "42"}),
        ("items/{id}", "/api/ITEMS/42/", {"id": "42"}),
        ("items/{id}", "/api/items", None),
        ("items/{id}", "/api/items/4/2", None),
        ("items/{id}", "/api/items/a%20b%2Fc", {"id": "a b/c"}),
        ("items/{id:int}", "/api/items/-7", {"id": "-7"}),
        ("items/{id:int}", "/api/items/2147483648", None),
        ("items/{id:long}", "/api/items/2147483648", {"id": "2147483648"}),
        ("items/{id:int}", "/api/items/x", None),
        ("g/{id:guid}", f"/api/g/{GUID}", {"id": GUID}),
        ("g/{id:guid}", "/api/g/not-a-guid", None),
        ("a/{x:alpha}", "/api/a/abcXYZ", {"x": "abcXYZ"}),
        ("a/{x:alpha}", "/api/a/abc1", None),
        ("b/{x:bool}", "/api/b/True", {"x": "True"}),
        ("n/{x:int:range(1,5)}", "/api/n/5", {"x": "5"}),
        ("n/{x:int:range(1,5)}", "/api/n/6", None),
        ("s/{x:minlength(2):maxlength(3)}", "/api/s/abc", {"x": "abc"}),
        ("s/{x:minlength(2):maxlength(3)}", "/api/s/abcd", None),
        ("r/{code:regex(^[a-z]{{3}}$)}", "/api/r/abc", {"code": "abc"}),
        ("r/{code:regex(^[a-z]{{3}}$)}", "/api/r/abcd", None),
        ("o/{x?}", "/api/o", {}),
        ("o/{x?}", "/api/o/1", {"x": "1"}),
        ("o/{x:int?}", "/api/o/y", None),
        ("d/{x=all}", "/api/d", {"x": "all"}),
        ("files/{*rest}", "/api/files/a/b%20c/d", {"rest": "a/b c/d"}),
        ("files/{*rest}", "/api/files", {}),
        ("f/{name}.{ext}", "/api/f/a.tar.gz", {"name": "a.tar", "ext": "gz"}),
        ("", "/api", {}),
    ],
)
def test_route_template_matching(template: str, path: str, expected: dict | None) -> None:
    assert compile_template("api", template).match(path) == expected


def test_route_prefix_empty_and_custom() -> None:
    assert compile_template("", "health").match("/health") == {}
    assert compile_template("", "health").match("/api/health") is None
    assert compile_template("v1/", "/health").match("/v1/health") == {}


@pytest.mark.parametrize(
    "template",
    ["a/{*x}/b", "{a}{b}", "{x", "a//b", "{1x}", "{x:nope}", "{*x?}", "x}"],
)
def test_bad_route_templates_are_refused(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        compile_template("api", template)


def test_route_table_precedence_404_and_405() -> None:
    def route(template: str, methods: set[str] | None, name: str) -> Route[str]:
        return Route(
            compile_template("api", template), frozenset(methods) if methods else None, name
        )

    table = RouteTable(
        [
            route("items/{*rest}", None, "catch_all"),
            route("items/{id}", {"GET"}, "plain"),
            route("items/{id:int}", {"GET", "DELETE"}, "typed"),
            route("items/new", {"GET"}, "literal"),
        ]
    )
    found = table.match("GET", "/api/items/new")
    assert isinstance(found, RouteMatch) and found.route.target == "literal"
    found = table.match("GET", "/api/items/7")
    assert isinstance(found, RouteMatch) and found.route.target == "typed"
    found = table.match("GET", "/api/items/x")
    assert isinstance(found, RouteMatch) and found.route.target == "plain"
    found = table.match("POST", "/api/items/x/y")
    assert isinstance(found, RouteMatch) and found.route.target == "catch_all"
    assert table.match("GET", "/api/other") is None

    strict = RouteTable([route("items/{id:int}", {"GET", "DELETE"}, "typed")])
    assert strict.match("PATCH", "/api/items/7") == MethodNotAllowed(("DELETE", "GET"))


# --- HTTP through the host -------------------------------------------------------------


async def test_request_conversion(client: aiohttp.ClientSession) -> None:
    body = bytes(range(256))
    async with client.post(
        "/api/echo/a%20b/c?x=1&x=2&y=%C3%A9",
        data=body,
        headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Content-Type", "application/x-raw")],
    ) as response:
        assert response.status == 200
        echoed = await response.json()
    assert echoed["method"] == "POST"
    assert echoed["url"].endswith("/api/echo/a%20b/c?x=1&x=2&y=%C3%A9")
    assert echoed["url"].startswith("http://127.0.0.1:")
    assert echoed["headers"]["x-multi"] == "one,two"
    assert echoed["headers"]["content-type"] == "application/x-raw"
    assert echoed["params"] == {"x": "1,2", "y": "é"}
    assert echoed["route_params"] == {"rest": "a b/c"}
    assert base64.b64decode(echoed["body"]) == body


async def raw_exchange(client: aiohttp.ClientSession, request: bytes) -> tuple[int, dict]:
    """Send bytes as they are (what aiohttp's client would not send) and read the answer."""
    url = client._base_url
    assert url is not None and url.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", url.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            body = await reader.readexactly(length)
    finally:
        writer.close()
    return int(head.split()[1]), json.loads(body)


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    functions: list[FunctionSpec],
) -> None:
    """By its Content-Length, as Azure's front end does: 100 MB announced, none sent, and
    the answer comes at once, in the API's error shape."""
    async with serving(functions, max_body_bytes=1024) as (_, client):
        status, error = await raw_exchange(
            client,
            b"POST /api/echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
        )
        assert (status, error["error"]["code"]) == (413, "RequestEntityTooLarge")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"y" * 1024

        async with client.post("/api/echo/x", data=chunks()) as response:  # chunked
            assert response.status == 413
            assert (await response.json())["error"]["code"] == "RequestEntityTooLarge"
        async with client.post("/api/echo/x", data=b"z" * 1024) as response:
            assert response.status == 200


async def test_a_request_the_host_cannot_read_is_answered_as_json(
    client: aiohttp.ClientSession,
) -> None:
    line = b"GET /api/echo/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, error = await raw_exchange(client, line)
    assert status == 400
    assert error["error"]["code"] == "BadRequest"
    assert "8 KiB" in error["error"]["message"]
    assert "aaaa" not in error["error"]["message"]  # nothing of the request is echoed


# Requests the host cannot read, each carrying the key in ?code= (and in its header).
UNREADABLE_REQUESTS = [
    # A request line over 8 KiB: aiohttp's parser quotes its first 100 bytes.
    b"GET /api/echo/x?code=SECRET&pad=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    # Bytes that are not UTF-8, in the query and in the path: the parser quotes the line.
    b"GET /api/echo/x?code=SECRET&y=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/echo/\xc3\x28?code=SECRET HTTP/1.1\r\nHost: x\r\n\r\n",
    # Not a method: aiohttp logs that at DEBUG, with the line.
    b"G\x01T /api/echo/x?code=SECRET HTTP/1.1\r\nHost: x\r\n\r\n",
    # A header over 8 KiB after the key's header.
    b"GET /api/echo/x?code=SECRET HTTP/1.1\r\nx-functions-key: SECRET\r\nX-Pad: "
    + b"b" * 9000
    + b"\r\n\r\n",
]


async def test_no_key_reaches_the_log_from_a_request_the_host_cannot_read(
    functions: list[FunctionSpec], caplog: pytest.LogCaptureFixture
) -> None:
    """The host logs the kind of failure, never the raw request line: aiohttp's own log of
    a line it cannot parse quotes it, ``?code=`` and all."""
    with caplog.at_level(logging.DEBUG):
        async with serving(functions, keys=Keys(function="SECRET")) as (_, client):
            for request in UNREADABLE_REQUESTS:
                status, error = await raw_exchange(client, request)
                assert (status, error["error"]["code"]) == (400, "BadRequest")
            async with client.get("/api/items/7", params={"code": "SECRET", "x": "1"}) as reply:
                assert reply.status == 200
    logged = caplog.text  # every record as formatted, tracebacks included
    assert "SECRET" not in logged
    refused = [r for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(refused) == len(UNREADABLE_REQUESTS)
    assert "GET /api/items/7?code=REDACTED&x=1 -> 200" in logged  # method and path, no key


@contextlib.contextmanager
def keyed_cli(log: Path, *args: str) -> Iterator[int]:
    """The real CLI with a function key (SECRET), its output in ``log``: yields its port,
    then stops it (SIGTERM; it must exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTIONS_")}
    env |= {"FUNCTIONS_FUNCTION_KEY": "SECRET", **FAR_AWAY}
    command = [sys.executable, "-m", "tools.local_host", "--app-dir", str(SAMPLE_DIR)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", "0", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_for_port(log, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_cli_logs_no_key_of_a_request_it_cannot_read(tmp_path: Path) -> None:
    """The same through the real CLI and its log (--verbose: aiohttp's debug records too)."""
    log = tmp_path / "host.log"
    with keyed_cli(log, "--verbose") as port:
        for request in UNREADABLE_REQUESTS:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(request)
                assert connection.recv(64).startswith(b"HTTP/1.0 400")
        keyed = httpx.get(f"http://127.0.0.1:{port}/api/items/7?code=SECRET")
        assert keyed.status_code == 200
    output = log.read_text(errors="replace")
    assert "SECRET" not in output
    assert output.count("that the host cannot read") == len(UNREADABLE_REQUESTS)
    assert "GET /api/items/7?code=REDACTED -> 200" in output


def test_the_cli_writes_each_requests_lines_to_the_access_log_when_told(tmp_path: Path) -> None:
    """make run's default: the console keeps start-up, timers and errors; each request's
    access and invocation lines go to the file (keys redacted there too)."""
    console, requests = tmp_path / "console.log", tmp_path / "logs" / "requests.log"
    with keyed_cli(console, "--access-log", str(requests)) as port:
        for _ in range(3):
            reply = httpx.get(f"http://127.0.0.1:{port}/api/items/7?code=SECRET")
            assert reply.status_code == 200
    shown, written = console.read_text(errors="replace"), requests.read_text()
    assert "/api/items/7" not in shown and "Executing" not in shown
    assert "Host started" in shown
    assert written.count("GET /api/items/7?code=REDACTED -> 200") == 3
    assert written.count("Executed 'Functions.") == 3
    assert "SECRET" not in written + shown


async def test_response_conversion(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/cookies") as response:
        assert response.status == 201
        assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
        assert response.headers["X-Custom"] == "yes"
        assert response.headers["Content-Type"] == "text/html; charset=iso-8859-1"
        assert await response.read() == "<p>créé</p>".encode("iso-8859-1")
    async with client.get("/api/echo/x") as response:
        assert response.headers["Content-Type"] == "application/json"
    async with client.get("/api/plain") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await response.text() == "just text"


async def test_routes_constraints_optional_and_default_route(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/items/new") as response:
        assert await response.json() == {"new": True}
    async with client.get("/api/items/12") as response:
        assert await response.json() == {"id": 12}
    async with client.get(f"/api/things/{GUID}") as response:
        assert await response.json() == {"id": GUID}
    async with client.get(f"/api/things/{GUID}/parts") as response:
        assert await response.json() == {"id": GUID, "part": "parts"}
    async with client.get("/api/things/not-a-guid") as response:
        assert response.status == 404
    async with client.get("/api/whoami") as response:
        context = await response.json()
    assert context["function_name"] == "whoami"
    assert len(context["invocation_id"]) == 36
    assert context["function_directory"] == str(SAMPLE_DIR)


async def test_unknown_route_404_and_wrong_method_405(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/nothing/here") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "NotFound"
    async with client.patch("/api/items/3") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "DELETE, GET"
        assert (await response.json())["error"]["code"] == "MethodNotAllowed"


async def test_handler_exception_is_500_json_without_traceback(
    client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with client.get("/api/boom") as response:
            assert response.status == 500
            text = await response.text()
    assert json.loads(text)["error"]["code"] == "InternalServerError"
    assert "Traceback" not in text
    assert "secret detail" not in text
    failed = [r for r in caplog.records if "Exception while executing function" in r.message]
    assert failed and failed[0].exc_info is not None
    assert any("(Failed, Id=" in r.getMessage() for r in caplog.records)


async def test_invocations_are_logged_like_core_tools(
    client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with client.get("/api/plain") as response:
            assert response.status == 200
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Executing 'Functions.plain' (Reason='") for m in messages)
    assert any(
        m.startswith("Executed 'Functions.plain' (Succeeded, Id=") and m.endswith("ms)")
        for m in messages
    )


async def test_route_prefix_can_be_empty(functions: list[FunctionSpec]) -> None:
    async with serving(functions, prefix="") as (_, client):
        async with client.get("/plain") as response:
            assert response.status == 200
        async with client.get("/api/plain") as response:
            assert response.status == 404


# --- keys ----------------------------------------------------------------------------


async def test_without_keys_nothing_is_enforced(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/admin-only") as response:
        assert response.status == 200
    async with client.get("/admin/host/status") as response:
        assert response.status == 200


async def test_keys_are_enforced_when_configured(functions: list[FunctionSpec]) -> None:
    keys = Keys(master="master-key", function="function-key")
    async with serving(functions, keys=keys) as (_, client):

        async def status(path: str, key: str | None = None, *, header: bool = True) -> int:
            headers = {"x-functions-key": key} if key and header else {}
            params = {"code": key} if key and not header else {}
            async with client.get(path, headers=headers, params=params) as response:
                if response.status == 401:
                    assert (await response.json())["error"]["code"] == "Unauthorized"
                return response.status

        assert await status("/api/items/1") == 401
        assert await status("/api/items/1", "wrong") == 401
        assert await status("/api/items/1", "function-key") == 200
        assert await status("/api/items/1", "function-key", header=False) == 200
        assert await status("/api/items/1", "master-key") == 200
        assert await status("/api/plain") == 200
        assert await status("/api/admin-only", "function-key") == 401
        assert await status("/api/admin-only", "master-key") == 200
        assert await status("/admin/host/status") == 401
        assert await status("/admin/host/status", "function-key") == 401
        assert await status("/admin/host/status", "master-key", header=False) == 200


def test_admin_level_falls_back_to_the_function_key() -> None:
    only_function = Keys(function="f")
    assert only_function.allows("admin", "f")
    assert not only_function.allows("admin", None)
    assert Keys().allows("admin", None)
    assert Keys(master="m").allows("anonymous", None)


# --- admin API and timers --------------------------------------------------------------


async def test_admin_api_runs_a_timer_function_in_the_background(
    client: aiohttp.ClientSession, sample: ModuleType
) -> None:
    async with client.post("/admin/functions/tick", json={"input": ""}) as response:
        assert response.status == 202
    await wait_for(lambda: sample.TICKS == [False])
    await wait_until_idle(client, "tick")
    async with client.post("/admin/functions/TICK", json={"input": ""}) as response:
        assert response.status == 202  # function names are case-insensitive, as in Azure
    await wait_for(lambda: len(sample.TICKS) == 2)


async def test_admin_api_errors(client: aiohttp.ClientSession) -> None:
    async with client.post("/admin/functions/missing", json={"input": ""}) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "NotFound"
    async with client.post("/admin/functions/plain", json={"input": ""}) as response:
        assert response.status == 400
    async with client.post("/admin/functions/tick", data=b"[1]") as response:
        assert response.status == 400
    async with client.delete("/admin/functions/tick") as response:
        assert response.status == 405


async def test_admin_run_is_skipped_while_one_is_in_progress(
    client: aiohttp.ClientSession, sample: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    sample.TICK_SECONDS = 0.4
    with caplog.at_level(logging.INFO):
        async with client.post("/admin/functions/tick", json={"input": ""}) as first:
            assert first.status == 202
        await wait_for(lambda: len(sample.TICKS) == 1)
        async with client.post("/admin/functions/tick", json={"input": ""}) as second:
            assert second.status == 202
        await asyncio.sleep(0.6)
    assert len(sample.TICKS) == 1
    assert any("already running" in r.getMessage() for r in caplog.records)


async def test_host_status_and_function_list(client: aiohttp.ClientSession) -> None:
    async with client.get("/admin/host/status") as response:
        assert response.status == 200
        status = await response.json()
    assert status["state"] == "Running"
    assert status["id"] and status["version"]
    assert isinstance(status["processUptime"], int)
    async with client.get("/admin/functions") as response:
        listing = {entry["name"]: entry for entry in await response.json()}
    assert listing["tick"]["trigger"] == "timerTrigger"
    assert listing["get_item"]["invoke_url_template"].endswith("/api/items/{id:int}")


def test_startup_listing(functions: list[FunctionSpec]) -> None:
    host = LocalHost(HostConfig(SAMPLE_DIR, "api", Keys()), functions, FAR_AWAY)
    lines = host.describe("http://localhost:7071")
    assert lines[0] == "Functions:"
    assert "  get_item: [GET,DELETE] http://localhost:7071/api/items/{id:int}" in lines
    assert "  tick: timerTrigger" in lines


def test_schedule_parsing() -> None:
    settings = {"EVERY_15_S": "*/15 * * * * *"}
    schedule = parse_schedule("%EVERY_15_S%", settings, "f")
    assert schedule == CronSchedule("*/15 * * * * *")
    start = datetime(2024, 1, 1, 0, 0, 7, tzinfo=UTC)
    assert schedule.next_after(start) == start.replace(second=15)
    five_minutes = parse_schedule("0 */5 * * * *", {}, "f")
    assert five_minutes.next_after(start) == start.replace(minute=5, second=0)
    assert parse_schedule("01:30:00", {}, "f") == IntervalSchedule(timedelta(hours=1, minutes=30))

    with pytest.raises(HostConfigError, match="'MISSING_SETTING'"):
        parse_schedule("%MISSING_SETTING%", {}, "poller")
    with pytest.raises(HostConfigError, match="six"):
        parse_schedule("*/5 * * * *", {}, "f")
    with pytest.raises(HostConfigError, match="not valid NCRONTAB"):
        parse_schedule("61 * * * * *", {}, "f")


def test_missing_schedule_setting_stops_the_host_from_starting(
    functions: list[FunctionSpec],
) -> None:
    with pytest.raises(HostConfigError, match="SAMPLE_SCHEDULE"):
        LocalHost(HostConfig(SAMPLE_DIR, "api", Keys()), functions, {})


async def test_timer_overrun_gives_one_past_due_run(
    functions: list[FunctionSpec], sample: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """Every second, each run lasting 1.4 s: the next run starts 0.4 s late, with past_due."""
    tick = next(spec for spec in functions if spec.name == "tick")
    host = LocalHost(HostConfig(SAMPLE_DIR, "api", Keys()), functions, FAR_AWAY)
    scheduler = TimerScheduler(
        host.invoker,
        [(tick, parse_schedule("* * * * * *", {}, "tick"))],
        past_due_after=timedelta(milliseconds=250),
    )
    sample.TICK_SECONDS = 1.4
    with caplog.at_level(logging.INFO):
        scheduler.start()
        try:
            await wait_for(lambda: len(sample.TICKS) >= 2, seconds=4)
        finally:
            await scheduler.stop()
            await host.invoker.drain(3)
    assert sample.TICKS[:2] == [False, True]
    assert any("Timer fired at" in r.getMessage() for r in caplog.records)
    assert any("past due" in r.getMessage() for r in caplog.records)


async def test_run_on_startup_runs_the_timer_at_once(
    functions: list[FunctionSpec], sample: ModuleType
) -> None:
    tick = next(spec for spec in functions if spec.name == "tick")
    eager = replace(
        tick, trigger=TimerTrigger(name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
    )
    host = LocalHost(HostConfig(SAMPLE_DIR, "api", Keys()), functions, FAR_AWAY)
    scheduler = TimerScheduler(host.invoker, [(eager, parse_schedule("0 0 0 1 1 *", {}, "t"))])
    scheduler.start()
    try:
        await wait_for(lambda: sample.TICKS == [False])
    finally:
        await scheduler.stop()
        await host.invoker.drain(2)


async def test_timer_request_reaches_the_function(
    functions: list[FunctionSpec], sample: ModuleType
) -> None:
    tick = next(spec for spec in functions if spec.name == "tick")
    host = LocalHost(HostConfig(SAMPLE_DIR, "api", Keys()), functions, FAR_AWAY)
    await host.invoker.invoke(tick, TimerRequest(past_due=True), "test")
    assert sample.TICKS == [True]


# --- settings --------------------------------------------------------------------------


def test_local_settings_values_do_not_override_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {"A": "from-file", "B": "from-file", "N": 5, "T": True},
                "Host": {"LocalHttpPort": 7999},
            }
        )
    )
    local = read_local_settings(path)
    environ = {"A": "from-env"}
    assert apply_values(local.values, environ) == ["B", "N", "T"]
    assert environ == {"A": "from-env", "B": "from-file", "N": "5", "T": "true"}
    assert read_local_settings(tmp_path / "absent.json") == LocalSettings({}, None)

    assert resolve_port(8000, {"FUNCTIONS_PORT": "8001"}, local) == 8000
    assert resolve_port(None, {"FUNCTIONS_PORT": "8001"}, local) == 8001
    assert resolve_port(None, {}, local) == 7999
    assert resolve_port(None, {}, LocalSettings({}, None)) == 7071

    path.write_text("{not json")
    with pytest.raises(HostConfigError, match=r"local\.settings\.json"):
        read_local_settings(path)


def test_route_prefix_from_host_json(tmp_path: Path) -> None:
    host_json = tmp_path / "host.json"
    assert read_route_prefix(host_json) == "api"
    host_json.write_text(json.dumps({"version": "2.0"}))
    assert read_route_prefix(host_json) == "api"
    host_json.write_text(json.dumps({"extensions": {"http": {"routePrefix": ""}}}))
    assert read_route_prefix(host_json) == ""


# --- the CLI ---------------------------------------------------------------------------


def test_cli_serves_settings_from_file_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text((SAMPLE_DIR / "function_app.py").read_text())
    (app_dir / "host.json").write_text(json.dumps({"extensions": {"http": {"routePrefix": "v"}}}))
    (app_dir / "local.settings.json").write_text(
        json.dumps(
            {
                "Values": {
                    "SAMPLE_SCHEDULE": "0 0 0 1 1 *",
                    "FUNCTIONS_FUNCTION_KEY": "file-key",
                }
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTIONS_")}
    env["SAMPLE_SCHEDULE"] = "0 0 0 2 1 *"  # the environment wins over the file
    log = tmp_path / "host.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.local_host", "--app-dir", str(app_dir), "--port", "0"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = _wait_for_port(log, process)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v/items/1").status_code == 401
        keyed = httpx.get(f"{base}/v/items/1", headers={"x-functions-key": "file-key"})
        assert keyed.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text()
    assert "Traceback" not in output
    assert "Cron: '0 0 0 2 1 *'" in output
    assert "  get_item: [GET,DELETE] http://localhost:" in output
    assert "Host stopped" in output


def _wait_for_port(log: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("Host started"):
                return int(line.rsplit(":", 1)[1])
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"host did not start:\n{log.read_text()[-3000:]}")


async def test_stopping_the_host_awaits_the_apps_stop_hook(functions: list[FunctionSpec]) -> None:
    stopped: list[str] = []

    async def on_host_stop() -> None:
        stopped.append("closed")

    host = LocalHost(
        HostConfig(SAMPLE_DIR, "api", Keys()), functions, FAR_AWAY, on_stop=on_host_stop
    )
    await host.start("127.0.0.1", 0)
    await host.stop()
    assert stopped == ["closed"]


def test_the_stop_hook_is_function_apps_on_host_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from tools.local_host.registry import stop_hook

    module = types.ModuleType("function_app")
    monkeypatch.setitem(sys.modules, "function_app", module)
    assert stop_hook() is None

    async def on_host_stop() -> None: ...

    module.on_host_stop = on_host_stop  # type: ignore[attr-defined]
    assert stop_hook() is on_host_stop


def test_make_run_waits_for_a_poll_of_its_own() -> None:
    """Data an earlier run left in the tables is not this run's first poll."""
    from tools.run_local import _poll_finished

    asked = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)

    def health(started: str, finished: str | None) -> httpx.Response:
        poll = {"startedDateTime": started, "finishedDateTime": finished}
        return httpx.Response(503, json={"sources": [{"lastPoll": poll}]})

    assert not _poll_finished(
        health("2026-11-26T09:00:00.0000000Z", "2026-11-26T09:00:01.0Z"), asked
    )
    assert not _poll_finished(health("2026-11-27T01:00:00.5000000Z", None), asked)
    assert _poll_finished(health("2026-11-27T01:00:00.5000000Z", "2026-11-27T01:00:01.0Z"), asked)
