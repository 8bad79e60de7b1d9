"""The board under many viewers, through the local Functions host: the load part of
``python -m tools.bench_board`` (see its docstring), and the baseline it is compared with."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import multiprocessing
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import azure.functions as func

from shared import composition
from shared.core.api import name_filter
from shared.http.board.access import Viewer
from shared.http.board.page import html_response, takes_gzip
from shared.http.board.render import board_context
from shared.http.board.view import HEALTH_ORDER, ROW_PARTS, board_of, snapshot_of
from shared.http.serving import api_call
from shared.polling.report import health_report
from shared.storage.items import ItemUpdate, merge_write
from shared.storage.store import StatusStore
from tools.processes import REPO, Child, free_port

JOBS = "synchronizationJobs"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}  # as a browser asks
START_TIMEOUT = 60.0
# The baseline's app: the app's HTTP routes, and the board as it was answered before the
# page cache at /api/bench/board.
BASELINE_APP = f"""\
import sys

sys.path.insert(0, {str(REPO)!r})
import azure.functions as func
from functions.http_api import bp
from shared import composition
from tools.bench_board_host import baseline_board

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.route(route="bench/board", methods=["GET"])
async def bench_board(req: func.HttpRequest) -> func.HttpResponse:
    return await baseline_board(req)


async def on_host_stop() -> None:
    await composition.close()
"""


async def baseline_board(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/board`` as it was answered before the page cache: the cache read, the rows
    built, the page rendered and gzipped on the event loop, for every request."""
    settings, store = composition.services()
    call = api_call(req)
    health = name_filter(call.query.get("health"), "health", list(HEALTH_ORDER)) or []
    # The read as it was: the report and every summary, in pages of 1,000.
    enabled = list(settings.enabled_sources)
    report, entities = await asyncio.gather(
        health_report(settings, store), store.statuses.summaries(enabled, parts=ROW_PARTS)
    )
    board = board_of(snapshot_of(settings, report, entities, datetime.now(UTC)), health, [])
    context = board_context(Viewer(key=call.query.get("code")), board, health, [])
    return html_response(
        "board.html", compress=takes_gzip(call.header("accept-encoding")), **context
    )


async def change_one(store: StatusStore, marker: str) -> None:
    """What a poll or a PATCH does to the board: one item written with a new reason."""
    items = await store.statuses.summaries([JOBS])
    first = min(items, key=lambda item: item.id)
    update = ItemUpdate(health=(first.health or "unknown", marker))
    outcome = await store.statuses.write([merge_write(first, update)])
    assert outcome.written == 1, outcome


@dataclass
class Load:
    """What one side did under load: latencies in ms, the host's RSS in MB."""

    board_ms: list[float]
    health_ms: list[float]
    seconds: float
    rss_mb: float
    peak_rss_mb: float
    change_visible_s: float


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (the peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Viewers:
    """Browsers on one host's board: ``revalidate`` ones keep the page and ask with its ETag
    (If-None-Match), as a browser reloading a page it was allowed to keep; the others take
    the whole page every time."""

    def __init__(self, session: aiohttp.ClientSession, path: str, revalidate: bool) -> None:
        self.session, self.path, self.revalidate = session, path, revalidate
        self.board_ms: list[float] = []

    async def view(self, query: str = "", held: dict[str, str] | None = None) -> bytes:
        headers = GZIP | ({"If-None-Match": held["etag"]} if held else {})
        async with self.session.get(self.path + query, headers=headers) as response:
            body = await response.read()
            if response.status == 304 and held:
                return body
            if response.status != 200:
                raise SystemExit(f"GET {self.path}{query} answered {response.status}")
            if self.revalidate and held is not None and "ETag" in response.headers:
                held["etag"] = response.headers["ETag"]
            return body

    async def viewer(self, index: int, views: int, deadline: float, pause: float) -> None:
        query = "?health=error" if index % 5 == 4 else ""  # one in five filtered
        held: dict[str, str] = {}
        for _ in range(views):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            await self.view(query, held)
            self.board_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(pause)

    async def change_shown_after(self, store: StatusStore) -> float:
        """Seconds from one more change written to the board showing it."""
        marker = f"Benchmark change {time.time_ns()}"
        await change_one(store, marker)
        written = time.perf_counter()
        while marker.encode() not in gzip.decompress(await self.view()):
            if time.perf_counter() - written > START_TIMEOUT:
                raise SystemExit(f"a change was not on the board {START_TIMEOUT:.0f} s later")
            await asyncio.sleep(0.05)
        return time.perf_counter() - written


async def viewers_load(
    url: str, path: str, pid: int, store: StatusStore, args: argparse.Namespace, revalidate: bool
) -> Load:
    connector = aiohttp.TCPConnector(limit=0)  # one connection per viewer, as browsers
    # Bodies are read compressed: decompressing them here would take the host's CPU.
    async with aiohttp.ClientSession(url, connector=connector, auto_decompress=False) as session:
        viewers = Viewers(session, path, revalidate)
        await viewers.view()  # warm: templates compiled, connections open, the first version
        rss = memory_mb(pid, "VmRSS")
        context = multiprocessing.get_context("spawn")
        stop, out = context.Event(), context.Queue()
        prober = context.Process(target=probe, args=(url, stop, out))
        prober.start()
        await asyncio.to_thread(out.get, True, START_TIMEOUT)  # it has had a first answer
        began = time.monotonic()
        changes = asyncio.create_task(change_every(store, args.change_every))
        await asyncio.gather(*(
            viewers.viewer(index, args.views, began + args.load_seconds, args.pause)
            for index in range(args.viewers)
        ))  # fmt: skip
        ended = time.monotonic()
        changes.cancel()
        stop.set()
        asks = await asyncio.to_thread(out.get, True, START_TIMEOUT)
        await asyncio.to_thread(prober.join)
        visible = await viewers.change_shown_after(store)
    health_ms = [ms for at, ms in asks if began <= at <= ended]
    peak = memory_mb(pid, "VmHWM")
    return Load(viewers.board_ms, health_ms, ended - began, rss, peak, visible)


async def change_every(store: StatusStore, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await change_one(store, f"Benchmark change {time.time_ns()}")


def probe(url: str, stop: Any, out: Any) -> None:
    """In a process of its own (the viewers' delays must not count as the host's): GET
    /api/health every 50 ms until ``stop``. ``out`` gets True after the first answer, then
    [(monotonic time asked, ms), ...]."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    asks: list[tuple[float, float]] = []
    while not stop.is_set():
        at, started = time.monotonic(), time.perf_counter()
        connection.request("GET", "/api/health")
        connection.getresponse().read()
        asks.append((at, (time.perf_counter() - started) * 1000))
        if len(asks) == 1:
            out.put(True)
        time.sleep(0.05)
    out.put(asks)


async def under_load(
    app_dir: Path, path: str, values: dict[str, str], store: StatusStore, args: Any,
    revalidate: bool = False,
) -> Load:  # fmt: skip
    """One host serving ``app_dir``, loaded by the viewers; stopped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTIONS_")} | values
    port = free_port()
    host = Child(
        f"host-{app_dir.name}",
        [sys.executable, "-m", "tools.local_host", "--app-dir", str(app_dir), "--port", str(port)],
        env=env, log_dir=Path(args.workdir),
    )  # fmt: skip
    try:
        host.wait_for_line(lambda line: "Host started" in line, START_TIMEOUT)
        url = f"http://127.0.0.1:{port}"
        return await viewers_load(url, path, host.process.pid, store, args, revalidate)
    finally:
        host.stop()


async def loads_of(values: dict[str, str], store: StatusStore, args: Any) -> dict[str, Load]:
    """The baseline, the app with viewers taking whole pages, and with viewers revalidating."""
    baseline = Path(args.workdir) / "baseline"
    baseline.mkdir()
    (baseline / "function_app.py").write_text(BASELINE_APP, encoding="utf-8")
    (baseline / "host.json").write_bytes((REPO / "host.json").read_bytes())
    return {
        "baseline": await under_load(baseline, "/api/bench/board", values, store, args),
        "app": await under_load(REPO, "/api/board", values, store, args),
        "app, ETag": await under_load(REPO, "/api/board", values, store, args, revalidate=True),
    }


def report_load(loads: dict[str, Load], args: argparse.Namespace) -> None:
    print()
    pause = f"{args.pause:g} s between views" if args.pause else "no pause between views"
    print(f"{args.viewers} viewers through the local Functions host ({pause}), new views for "
          f"{args.load_seconds:g} s, one item changed every {args.change_every:g} s")  # fmt: skip
    rows = [
        ("board views", lambda s: f"{len(s.board_ms)}"),
        ("board views/s", lambda s: f"{len(s.board_ms) / s.seconds:.1f}"),
        ("board p50", lambda s: f"{percentile(s.board_ms, 50):.0f}ms"),
        ("board p99", lambda s: f"{percentile(s.board_ms, 99):.0f}ms"),
        ("/api/health p50", lambda s: f"{percentile(s.health_ms, 50):.0f}ms"),
        ("/api/health p99", lambda s: f"{percentile(s.health_ms, 99):.0f}ms"),
        ("host RSS before", lambda s: f"{s.rss_mb:.0f}MB"),
        ("host RSS peak", lambda s: f"{s.peak_rss_mb:.0f}MB"),
        ("a change shown after", lambda s: f"{s.change_visible_s:.2f}s"),
    ]
    print(f"{'':24}" + "".join(f"{name:>14}" for name in loads))
    for label, cell in rows:
        print(f"{label:24}" + "".join(f"{cell(load):>14}" for load in loads.values()))
    print("(app: whole pages every view; app, ETag: viewers revalidate with If-None-Match, as "
          "browsers do, and get 304 until the data changes. Targets for the app: board p99 <= "
          "1000ms, /api/health p99 <= 100ms, host RSS peak <= 300MB)")  # fmt: skip
