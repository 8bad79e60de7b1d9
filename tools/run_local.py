"""``make run``: Azurite, the simulated Graph tenant and the local Functions host, together.

The point is one command from a fresh clone to a working API on http://localhost:7071 with
data in it, on machines without Core Tools. Order and checks:

1. ``local.settings.json`` is created from the example when missing;
2. Azurite, data in ``.azurite/``, when ``AzureWebJobsStorage`` is
   ``UseDevelopmentStorage=true`` (skipped when it points elsewhere): its Table service on
   127.0.0.1:10002 (where that setting looks for tables), its Queue service on the next port
   (10003) and its Blob service on the one after (10004), one base port for all three as
   everywhere Azurite is started (``tools.processes``); the host is given the matching
   connection string, as UseDevelopmentStorage's own queue port (10001) is not Azurite's;
3. the simulated tenant with its changing demo schools on port 7072, unless
   ``GRAPH_BASE_URL`` (environment or local.settings.json) names another Graph, which is
   then used with its own ``GRAPH_AUTH``;
4. the host on ``FUNCTIONS_PORT`` (default 7071), then a first poll through the admin API so
   the API has data at once, then the URLs and a curl example.

Ports are settings (``AZURITE_TABLE_PORT``, Azurite's base port, ``GRAPH_TENANT_PORT``,
``FUNCTIONS_PORT``, in the environment or local.settings.json). A port left at its default
that something else on the machine holds (another ``make run``, a real Azurite) is replaced
by a free one, which the banner names, and the host is given the matching connection string
and Graph URL; a port set explicitly must be free, or the run stops with a message naming
the setting.

Children run in their own process groups with their output prefixed (``[azurite]``,
``[graph]``, ``[host]``); Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL after a
timeout), and so does any of them exiting on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import httpx

from shared.settings import DEFAULT_TABLE_PREFIX
from tools.demo_registry import register_demo_tenants
from tools.local_host.settings import (
    HostConfigError,
    LocalSettings,
    read_local_settings,
    resolve_port,
)
from tools.processes import (
    AZURITE,
    REPO,
    STOP_TIMEOUT,
    azurite_command,
    azurite_connection_string,
    azurite_listening,
    azurite_ports,
    free_azurite_port,
    free_port,
    signal_group,
    storage_names,
)

AZURITE_PORT = 10002  # UseDevelopmentStorage=true's table port; the queue's is 10003 here
TENANT_PORT = 7072
AZURITE_PORT_SETTING = "AZURITE_TABLE_PORT"
TENANT_PORT_SETTING = "GRAPH_TENANT_PORT"
# GRAPH_BASE_URL values that mean "the simulated tenant" (the example settings' value).
SIMULATED_TENANT_URLS = {f"http://127.0.0.1:{TENANT_PORT}", f"http://localhost:{TENANT_PORT}"}
POLL_FUNCTION = "poll_sync_statuses"
START_TIMEOUT = 60.0
FIRST_POLL_TIMEOUT = 30.0

T = TypeVar("T")


class RunError(Exception):
    """Something the user has to fix; printed without a traceback."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while starting."""


class Child:
    """A child process in its own process group, its output echoed with a prefix."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self._watchers: list[tuple[Callable[[str], bool], asyncio.Future[str]]] = []
        self._pump = asyncio.create_task(self._echo())

    @classmethod
    async def start(cls, name: str, argv: list[str], env: dict[str, str]) -> Child:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(name, process)

    def line_matching(self, predicate: Callable[[str], bool]) -> asyncio.Future[str]:
        """A future for the first line of output that satisfies ``predicate``."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._watchers.append((predicate, future))
        return future

    async def stop(self) -> None:
        """SIGTERM the group, SIGKILL it after STOP_TIMEOUT, then drain the output."""
        if self.process.returncode is None:
            signal_group(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                print(f"[{self.name}] did not stop in {STOP_TIMEOUT:.0f} s; killing it", flush=True)
                signal_group(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pump, 2)

    async def _echo(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            print(f"[{self.name}] {line}", flush=True)
            for predicate, future in self._watchers:
                if not future.done() and predicate(line):
                    future.set_result(line)
        code = await self.process.wait()
        for _, future in self._watchers:
            if not future.done():
                future.set_exception(RunError(f"{self.name} exited with code {code}"))


class LocalRun:
    def __init__(self, app_dir: Path, *, verbose: bool = False) -> None:
        self.app_dir = app_dir
        self.verbose = verbose
        # The simulated Graph runs here with its other tenants, which the run adds.
        self.demo_tenants = False
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.started = time.monotonic()
        self.storage = ""

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        try:
            await self._start_all()
            return await self._wait()
        except RunError as error:
            print(f"make run: {error}", file=sys.stderr, flush=True)
            return 1
        except Interrupted:
            return 0
        finally:
            if self.children:
                print("Stopping...", flush=True)
                await asyncio.gather(*(child.stop() for child in reversed(self.children)))
                print("Stopped.", flush=True)

    async def _start_all(self) -> None:
        local = _ensure_local_settings(self.app_dir)
        env = os.environ | {"PYTHONUNBUFFERED": "1"}

        storage = _effective(local, "AzureWebJobsStorage") or "UseDevelopmentStorage=true"
        if storage.replace(" ", "").lower() == "usedevelopmentstorage=true":
            azurite_port = await self._start_azurite(env, local)
            # Always: UseDevelopmentStorage=true's queue (10001) is not where Azurite's is.
            env |= {"AzureWebJobsStorage": azurite_connection_string(azurite_port)}
        else:
            self.storage = "AzureWebJobsStorage as configured"
            print(
                "AzureWebJobsStorage is set: using that storage, not starting Azurite", flush=True
            )

        configured = _effective(local, "GRAPH_BASE_URL")
        if configured and configured.rstrip("/") not in SIMULATED_TENANT_URLS:
            # A Graph of the user's own (the real one, say), with its GRAPH_AUTH as set.
            graph = configured
            print(f"GRAPH_BASE_URL is {graph}: using it, not the simulated tenant", flush=True)
        else:
            graph, home_tenant = await self._start_tenant(env, local)
            # Tokens that name the tenant (unsigned, for the simulated Graph): three tenants.
            env |= {"GRAPH_BASE_URL": graph, "GRAPH_AUTH": "simulated",
                    "HOME_TENANT_ID": home_tenant}  # fmt: skip
            self.demo_tenants = True
            # The demo tenant has every source: poll them all (its provisioning jobs are found
            # by discovery, the default), unless settings say otherwise.
            demo_sources = {
                "INDUSTRY_DATA_RUNS_ENABLED": "true",
                "PROVISIONING_LOGS_ENABLED": "true",
            }
            env |= {name: v for name, v in demo_sources.items() if not _effective(local, name)}

        # A local.settings.json from before the queues: its host would not start without them.
        prefix = _effective(local, "STATUS_TABLE_PREFIX") or DEFAULT_TABLE_PREFIX
        env |= {name: v for name, v in storage_names(prefix).items() if not _effective(local, name)}

        try:
            port = resolve_port(None, os.environ, local)
        except HostConfigError as error:
            raise RunError(str(error)) from None
        chosen = bool(_effective(local, "FUNCTIONS_PORT") or local.local_http_port)
        port = _port_for(port, chosen, "the Functions host", "FUNCTIONS_PORT")
        # Each request's lines go to a file unless --verbose: the console keeps what matters.
        access = [] if self.verbose else ["--access-log", str(self.access_log(port))]
        host = await Child.start(
            "host",
            [
                sys.executable, "-m", "tools.local_host",
                "--app-dir", str(self.app_dir),
                "--port", str(port),
                *access,
            ],
            env,
        )  # fmt: skip
        self.children.append(host)
        await self._until(host.line_matching(lambda line: "Host started" in line))

        base = f"http://localhost:{port}"
        master_key = _effective(local, "FUNCTIONS_MASTER_KEY") or _effective(
            local, "FUNCTIONS_FUNCTION_KEY"
        )
        await self._first_poll(base, master_key)
        requests = (
            "on the console (--verbose)"
            if self.verbose
            else f"{self.access_log(port).relative_to(self.app_dir)}   (RUN_ARGS=--verbose: here)"
        )
        self._announce(
            base, graph, _effective(local, "FUNCTIONS_FUNCTION_KEY"), master_key, requests
        )

    def access_log(self, port: int) -> Path:
        """Where the host writes each request's lines (its access log) for this run."""
        return self.app_dir / ".logs" / f"host-{port}-requests.log"

    async def _start_azurite(self, env: dict[str, str], local: LocalSettings) -> int:
        """Start Azurite (its Table and Queue services the app uses); return its base port,
        the Table service's."""
        if not AZURITE.exists():
            raise RunError(f"{AZURITE} is missing: run `make install` (npm ci)")
        port, chosen = _port_setting(local, AZURITE_PORT_SETTING, AZURITE_PORT)
        port = _port_for(
            port, chosen, "Azurite (UseDevelopmentStorage=true)", AZURITE_PORT_SETTING, services=3
        )
        # Another run may hold .azurite/ with its own Azurite: a port of its own, data of its own.
        data = self.app_dir / ".azurite" / ("" if port == AZURITE_PORT else f"port-{port}")
        data.mkdir(parents=True, exist_ok=True)
        azurite = await Child.start("azurite", azurite_command(port, location=data), env)
        self.children.append(azurite)
        # Its services start one after another: ready when tables and queues both listen.
        await self._until(
            asyncio.gather(
                azurite.line_matching(lambda line: azurite_listening(line) == "Table"),
                azurite.line_matching(lambda line: azurite_listening(line) == "Queue"),
            )
        )
        where = data.relative_to(self.app_dir).as_posix()
        table, queue, _ = azurite_ports(port)
        self.storage = (
            f"Azurite, tables http://127.0.0.1:{table}, queues http://127.0.0.1:{queue} "
            f"(data in {where}/)"
        )
        return port

    async def _start_tenant(self, env: dict[str, str], local: LocalSettings) -> tuple[str, str]:
        """Start the demo tenants; return their URL and the home tenant's id."""
        port, chosen = _port_setting(local, TENANT_PORT_SETTING, TENANT_PORT)
        port = _port_for(port, chosen, "the simulated Graph tenant", TENANT_PORT_SETTING)
        tenant = await Child.start(
            "graph",
            [sys.executable, "-m", "tools.graph_tenant", "--demo", "--demo-tenants",
             "--port", str(port)],
            env,
        )  # fmt: skip
        self.children.append(tenant)
        announced = tenant.line_matching(lambda line: line.startswith("GRAPH_TENANT_URL="))
        ids = tenant.line_matching(lambda line: line.startswith("GRAPH_TENANT_IDS="))
        url = (await self._until(announced)).partition("=")[2].strip()
        home = (await self._until(ids)).partition("=")[2].split(",")[0].strip()
        return url, home

    async def _first_poll(self, base: str, master_key: str | None) -> None:
        """Start the poll through the admin API and wait until /api/health shows it done: a
        poll of this run, not one an earlier run left in the tables."""
        headers = {"x-functions-key": master_key} if master_key else {}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
            for problem in await register_demo_tenants(client) if self.demo_tenants else []:
                print(f"The demo is not fully set up: {problem}", flush=True)
            asked = datetime.now(UTC)
            started = await client.post(f"/admin/functions/{POLL_FUNCTION}", json={"input": ""})
            if started.status_code != 202:
                print(f"The first poll was refused ({started.status_code}): {started.text}")
                return
            deadline = time.monotonic() + FIRST_POLL_TIMEOUT
            while time.monotonic() < deadline and not self.stopping.is_set():
                health = await client.get("/api/health")
                if _poll_finished(health, asked):
                    return
                await self._until(asyncio.sleep(0.2))
        print(f"The first poll did not finish in {FIRST_POLL_TIMEOUT:.0f} s; see [host] above")

    def _announce(
        self,
        base: str,
        graph: str,
        function_key: str | None,
        master_key: str | None,
        requests: str,
    ) -> None:
        key_header = f' -H "x-functions-key: {function_key}"' if function_key else ""
        # The admin API takes the master key (or the function key when it is the only one).
        admin_header = f' -H "x-functions-key: {master_key}"' if master_key else ""
        profiles = f"{base}/api/education/synchronizationProfiles"
        # The board takes the key in its URL, as Azure does (?code=).
        board = f"{base}/api/board" + (f"?code={quote(function_key)}" if function_key else "")
        print(
            "\n".join(
                [
                    "",
                    f"SyncStatus is running (ready in {time.monotonic() - self.started:.1f} s):",
                    f"  Board:    {board}   (open it in a browser)",
                    f"  Profiles: {profiles}",
                    f"  Status:   {profiles}/{{id}}/profileStatus",
                    f"  All:      {base}/api/statuses   (?health=error,warning)",
                    f"  Health:   {base}/api/health",
                    f"  Graph:    {graph}",
                    f"  Storage:  {self.storage}",
                    f"  Requests: {requests}",
                    "Try:",
                    f"  curl -s{key_header} '{base}/api/statuses?health=error,warning'",
                    f"  curl -s{key_header} {profiles}",
                    f"  curl -s -X POST{admin_header} {base}/admin/functions/{POLL_FUNCTION} "
                    "-H 'Content-Type: application/json' -d '{\"input\": \"\"}'",
                    "Press Ctrl-C to stop.",
                    "",
                ]
            ),
            flush=True,
        )

    async def _wait(self) -> int:
        """Until Ctrl-C (0) or a child exiting by itself (1)."""
        stop = asyncio.create_task(self.stopping.wait())
        exits = {asyncio.create_task(child.process.wait()): child for child in self.children}
        done, pending = await asyncio.wait({stop, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if stop in done:
            return 0
        child = exits[next(iter(done))]
        print(f"[{child.name}] exited with code {child.process.returncode}; stopping everything")
        return 1

    async def _until(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless Ctrl-C comes first or START_TIMEOUT passes."""
        work = asyncio.ensure_future(awaitable)
        stop = asyncio.create_task(self.stopping.wait())
        done, _ = await asyncio.wait(
            {work, stop}, timeout=START_TIMEOUT, return_when="FIRST_COMPLETED"
        )
        stop.cancel()
        if work in done:
            return work.result()
        work.cancel()
        if stop in done:
            raise Interrupted
        raise RunError(f"start-up took more than {START_TIMEOUT:.0f} s; see the output above")


def _ensure_local_settings(app_dir: Path) -> LocalSettings:
    settings = app_dir / "local.settings.json"
    if not settings.exists():
        shutil.copyfile(app_dir / "local.settings.json.example", settings)
        print(
            "Created local.settings.json from local.settings.json.example "
            "(your local settings; git ignores it)",
            flush=True,
        )
    try:
        return read_local_settings(settings)
    except HostConfigError as error:
        raise RunError(str(error)) from None


def _effective(local: LocalSettings, name: str) -> str | None:
    """A setting as the host will see it: the environment wins over local.settings.json."""
    return os.environ.get(name) or local.values.get(name) or None


def _port_setting(local: LocalSettings, name: str, default: int) -> tuple[int, bool]:
    """The port a setting names (and True), or ``default`` (and False)."""
    raw = _effective(local, name)
    if raw is None:
        return default, False
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise RunError(f"{name} must be a port number (1-65535); got {raw!r}")
    return int(raw), True


def _port_for(port: int, chosen: bool, what: str, setting: str, *, services: int = 1) -> int:
    """``port`` when it (and the ``services - 1`` ports after it, Azurite's) is free; for a
    default port that is taken, a free one instead (the banner names it); for a port set
    explicitly, a message naming the setting."""
    taken = next((p for p in range(port, port + services) if not _is_free(p)), None)
    if taken is None:
        return port
    if chosen:
        raise RunError(
            f"port {taken}, needed by {what}, is already in use: set {setting} to a free port"
        )
    other = free_port() if services == 1 else free_azurite_port()
    print(f"Port {taken} is in use: {what} takes port {other} (set {setting} to choose)")
    return other


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _poll_finished(health: httpx.Response, asked: datetime) -> bool:
    """Whether every source's last poll started after ``asked`` and has finished."""
    if health.status_code not in (200, 503):
        return False
    sources = health.json().get("sources", [])
    polls = [source.get("lastPoll") or {} for source in sources]
    return bool(polls) and all(
        poll.get("finishedDateTime") and datetime.fromisoformat(poll["startedDateTime"]) >= asked
        for poll in polls
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.run_local", description=__doc__)
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=REPO,
        help="the function app (function_app.py, host.json, local.settings.json); default: repo",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show each request's lines on the console (by default they go to .logs/)",
    )
    args = parser.parse_args()
    return asyncio.run(LocalRun(args.app_dir.resolve(), verbose=args.verbose).run())


if __name__ == "__main__":
    sys.exit(main())
