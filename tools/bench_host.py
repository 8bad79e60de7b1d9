"""How much the local host adds to a request: one cached status, through the host vs in-process;
and the cold start: from starting the host to the first answered GET, for this app and for an
empty v2 app beside it (the baseline: what the host and azure-functions cost alone).

``python -m tools.bench_host [--requests 2000] [--concurrency 8] [--cold-starts 5]``

Both sides run the same real handler (``get_profile_status``) against the same Azurite
table, so the difference is the host: HTTP parsing on loopback, routing, the key check, the
request/response conversions and the invocation log lines. The stack is started here and
stopped at the end: Azurite (in memory, temp dir), the simulated tenant with 50 profiles,
and the host; the cache is filled by a poll started through the host's admin API, as
``make run`` does. The client keeps connections alive and never has more than
``--concurrency`` requests in flight; the in-process side uses the same bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import azure.functions as func

from tools.processes import (
    AZURITE,
    REPO,
    Child,
    ChildFailed,
    azurite_command,
    azurite_connection_string,
    free_azurite_port,
    free_port,
    storage_names,
)

PROFILES = "/api/education/synchronizationProfiles"
# The baseline of the cold start: the local host's test app, a handful of trivial functions.
BASELINE_APP = REPO / "tests" / "unit" / "sample_app"
HANDLER = "get_profile_status"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


@contextlib.contextmanager
def running_stack(workdir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Azurite, tenant and host; yields the host URL and the app settings it was given."""
    children: list[Child] = []
    try:
        azurite_port = free_azurite_port()
        # Azurite writes its debug files in its working directory.
        azurite = Child("azurite", azurite_command(azurite_port), cwd=workdir, log_dir=workdir)
        children.append(azurite)
        tenant = Child(
            "graph",
            [sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--profiles", "50"],
            log_dir=workdir,
        )
        children.append(tenant)
        azurite.wait_for_azurite(azurite_port, START_TIMEOUT)
        tenant_url = tenant.wait_for_line(
            lambda line: line.startswith("GRAPH_TENANT_URL="), START_TIMEOUT
        )
        settings = {
            "AzureWebJobsStorage": azurite_connection_string(azurite_port),
            "GRAPH_BASE_URL": tenant_url.partition("=")[2].strip(),
            "GRAPH_AUTH": "none",
            "POLL_SCHEDULE": "0 0 0 1 1 *",
            **storage_names(f"Bench{uuid.uuid4().hex[:10]}"),
        }
        host_env = {
            k: v for k, v in os.environ.items() if not k.startswith("FUNCTIONS_")
        } | settings
        host_port = free_port()
        host = Child(
            "host",
            [sys.executable, "-m", "tools.local_host", "--port", str(host_port)],
            env=host_env,
            log_dir=workdir,
        )
        children.append(host)
        host.wait_for_line(lambda line: "Host started" in line, START_TIMEOUT)
        yield f"http://127.0.0.1:{host_port}", settings
    finally:
        for child in reversed(children):
            child.stop()


@dataclass(frozen=True)
class ColdStart:
    name: str
    import_seconds: float
    import_rss_mb: float
    first_get_seconds: float


def cold_starts(workdir: Path, settings: dict[str, str], repeats: int) -> list[ColdStart]:
    """Best of ``repeats`` for each app: a fresh interpreter importing its function_app, and a
    fresh host from spawn to the first GET answered 200."""
    apps = [
        ("SyncStatus", REPO, "/api/statuses"),
        ("empty v2 app (baseline)", BASELINE_APP, "/api/echo/cold"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTIONS_")} | settings
    env["SAMPLE_SCHEDULE"] = "0 0 0 1 1 *"  # the baseline's timer: never due during the run
    results = []
    for name, app_dir, path in apps:
        imports = [_import_cost(app_dir, env) for _ in range(repeats)]
        firsts = [_first_get(workdir, app_dir, path, env) for _ in range(repeats)]
        best = min(imports)
        results.append(ColdStart(name, best[0], best[1], min(firsts)))
    return results


def _import_cost(app_dir: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of ``import function_app`` in a fresh interpreter."""
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
    code = (
        "import re, sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
        "import function_app; s = time.perf_counter() - t; "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(s, int(hwm) / 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(app_dir)],
        cwd=app_dir, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    seconds, rss = done.stdout.split()
    return float(seconds), float(rss)


def _first_get(workdir: Path, app_dir: Path, path: str, env: dict[str, str]) -> float:
    """Seconds from spawning the host to the first 200 on ``path``."""
    port = free_port()
    command = [sys.executable, "-m", "tools.local_host", "--app-dir", str(app_dir)]
    started = time.perf_counter()
    host = Child("cold-host", [*command, "--port", str(port)], env=env, log_dir=workdir)
    try:
        deadline = started + START_TIMEOUT
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.005)
        raise SystemExit(f"{app_dir} did not answer {path} within {START_TIMEOUT:.0f} s")
    finally:
        host.stop()


def _report_cold_starts(results: list[ColdStart], repeats: int) -> None:
    print(f"Cold start, best of {repeats}:")
    header = ("", "import s", "import RSS MB", "spawn to first GET s")
    print(f"  {header[0]:<26}" + "".join(f"{cell:>22}" for cell in header[1:]))
    for result in results:
        cells = (
            f"{result.import_seconds:.2f}",
            f"{result.import_rss_mb:.0f}",
            f"{result.first_get_seconds:.2f}",
        )
        print(f"  {result.name:<26}" + "".join(f"{cell:>22}" for cell in cells))
    app, baseline = results
    print(
        f"  the app's own share: {app.first_get_seconds - baseline.first_get_seconds:.2f} s "
        f"and {app.import_rss_mb - baseline.import_rss_mb:.0f} MB over the baseline"
    )


async def seed(session: aiohttp.ClientSession) -> str:
    """Poll through the admin API; return the id of a cached profile."""
    async with session.post("/admin/functions/poll_sync_statuses", json={"input": ""}) as started:
        if started.status != 202:
            raise SystemExit(f"the poll was refused: {started.status} {await started.text()}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        async with session.get(PROFILES, params={"$top": "50"}) as response:
            profiles = (await response.json()).get("value", []) if response.status == 200 else []
        if len(profiles) == 50:
            return str(profiles[0]["id"])
        await asyncio.sleep(0.2)
    raise SystemExit("the poll did not fill the cache in time")


async def measure(
    name: str, call: Callable[[], Awaitable[None]], requests: int, concurrency: int
) -> Result:
    """``requests`` calls, at most ``concurrency`` at a time; per-call latency in ms."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, requests, time.perf_counter() - began, latencies)


async def bench(host_url: str, settings: dict[str, str], args: argparse.Namespace) -> None:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(host_url, connector=connector) as session:
        profile_id = await seed(session)
        path = f"{PROFILES}/{profile_id}/profileStatus"

        async def through_host() -> None:
            async with session.get(path) as response:
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"GET {path} answered {response.status}")

        await measure("warm-up", through_host, args.warmup, args.concurrency)
        host = await measure("host (HTTP)", through_host, args.requests, args.concurrency)

    handler, close = _in_process_handler(settings)
    url = f"http://localhost:7071{path}"
    try:

        async def in_process() -> None:
            request = func.HttpRequest(
                method="GET", url=url, headers={}, params={}, route_params={"id": profile_id},
                body=b"",
            )  # fmt: skip
            response = await handler(request)
            if response.status_code != 200:
                raise SystemExit(f"{HANDLER} answered {response.status_code} in-process")

        await measure("warm-up", in_process, args.warmup, args.concurrency)
        direct = await measure("in-process", in_process, args.requests, args.concurrency)
    finally:
        await close()
    _report(host, direct, args)


def _in_process_handler(
    settings: dict[str, str],
) -> tuple[
    Callable[[func.HttpRequest], Awaitable[func.HttpResponse]], Callable[[], Awaitable[Any]]
]:
    """The app's own handler, imported here with the host's settings, and its cleanup."""
    os.environ.update(settings)
    sys.path.insert(0, str(REPO))
    import function_app
    from shared import composition

    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    handler = functions[HANDLER].get_user_function()
    return handler, composition.close


def _report(host: Result, direct: Result, args: argparse.Namespace) -> None:
    rows = [
        ("", "requests/s", "p50 ms", "p95 ms"),
        (host.name, f"{host.rate:.0f}", f"{host.percentile(50):.2f}", f"{host.percentile(95):.2f}"),
        (
            direct.name,
            f"{direct.rate:.0f}",
            f"{direct.percentile(50):.2f}",
            f"{direct.percentile(95):.2f}",
        ),
        (
            "host / in-process",
            f"{host.rate / direct.rate:.2f}x",
            f"{host.percentile(50) / direct.percentile(50):.2f}x",
            f"{host.percentile(95) / direct.percentile(95):.2f}x",
        ),
    ]
    print(
        f"GET {PROFILES}/{{id}}/profileStatus: {args.requests} requests, "
        f"concurrency {args.concurrency}, after {args.warmup} warm-up requests each"
    )
    for label, *cells in rows:
        print(f"  {label:<20}" + "".join(f"{cell:>12}" for cell in cells))
    added = host.percentile(50) - direct.percentile(50)
    print(f"  median latency the host adds: {added:.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_host", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per side")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per side")
    parser.add_argument("--cold-starts", type=int, default=5, help="cold starts per app (0: none)")
    args = parser.parse_args(argv)
    if args.requests < 2 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests must be 2 or more, --concurrency 1 or more")
    if not AZURITE.exists():
        parser.error(f"{AZURITE} is missing: run `make install`")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-host-") as workdir,
            running_stack(Path(workdir)) as (host_url, settings),
        ):
            asyncio.run(bench(host_url, settings, args))
            if args.cold_starts > 0:
                _report_cold_starts(
                    cold_starts(Path(workdir), settings, args.cold_starts), args.cold_starts
                )
    except ChildFailed as error:  # the stack is stopped by now
        raise SystemExit(str(error)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
