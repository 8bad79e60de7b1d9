"""What the app's poll costs against a naive poller: wall time, Graph requests, 429s, Table
transactions and peak memory, for a cold cache and for a poll in which nothing changed.

``python -m tools.bench_poll [--sizes 1000,10000] [--latency-ms 40] [--naive-sample 500]
[--rate-limit 2000]``

The stack is started here and stopped at the end: Azurite (in memory, temp dir) and, per N, a
fresh simulated tenant with N profiles that answers each Graph HTTP request after
``--latency-ms`` (a ``$batch`` once, not per sub-request). Each poll runs alone in its own
worker process (``--worker naive|app``), so that its peak RSS is its own; the worker times the
poll itself (after imports) and counts the REST calls its TableServiceClient sends, and the
tenant's counters (reset before each poll) give the Graph requests and 429s.

* naive: what most samples do, written here: list the profiles following
  ``@odata.nextLink``, then for each profile one GET of its profileStatus and one
  unconditional ``upsert_entity``, one after the other. At 40 ms that is minutes for 10,000
  profiles, so it reads and writes only the first ``--naive-sample`` profiles (the listing
  is always whole) and its figures are scaled linearly to N, marked ``~``.
* app: ``shared.polling.engine.poll_all_sources`` on a ``StatusStore`` over the same Azurite, with
  its own table prefix; the second poll runs against the cache the first one filled.

Last, one more nothing-changed app poll at the largest N with the tenant's throttling budget
set to ``--rate-limit`` requests per second (429 + Retry-After beyond it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import resource
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.pipeline.transport import AioHttpTransport

from tools.bench_common import (
    START_TIMEOUT,
    azurite_running,
    print_result,
    ratio,
    row,
    run_bench,
    running,
    verdict,
    worker_result,
)
from tools.processes import Child, azurite_connection_string

PROFILES_PATH = "/beta/education/synchronizationProfiles"
GRAPH_BATCH_SIZE = 20  # profileStatus requests per $batch, as the app sends them (shared.graph)
NAIVE_TABLE_SUFFIX = "NaiveStatuses"
POLL_RUNS_TABLE = "PollRuns"  # the app's table of poll-run records (shared.storage)

# -- the worker: one poll in its own process ---------------------------------------------------

# A table name where the Table service API names one: the last path segment of an entity or
# query URL, the URL of a batch's sub-request, or the body of a create-table request.
_TABLE_IN_URL = re.compile(rb"https?://[^/\s]+/[^/\s]+/([A-Za-z][A-Za-z0-9]{2,62})[(\s?]")
_TABLE_IN_BODY = re.compile(rb'"TableName"\s*:\s*"([A-Za-z0-9]+)"')


@dataclass
class TableCalls:
    """REST calls sent to the Table service, by kind and table."""

    reads: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    creates: int = 0

    def record(self, method: str, url: str, body: bytes) -> None:
        path = urllib.parse.urlsplit(url).path
        if method == "POST" and path.rstrip("/").endswith(("/Tables", "/Tables()")):
            self.creates += 1
            return
        # An entity URL names its table; a $batch's sub-requests name theirs in its body.
        found = _TABLE_IN_URL.search(f"{url} ".encode()) if "$batch" not in path else None
        found = found or _TABLE_IN_URL.search(body) or _TABLE_IN_BODY.search(body)
        table = found.group(1).decode() if found else "?"
        (self.reads if method == "GET" else self.writes)[table] += 1

    def to_json(self) -> dict[str, Any]:
        return {"reads": dict(self.reads), "writes": dict(self.writes), "creates": self.creates}


class CountingTransport(AioHttpTransport):
    """The SDK's aiohttp transport, counting every request it sends (retries included).

    Counting here, not in a policy: ``per_call_policies`` reaches the TableServiceClient's
    own pipeline only, while ``get_table_client`` builds each TableClient's pipeline from
    the policies without it; the transport is the one thing they all share.
    """

    def __init__(self, calls: TableCalls, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = calls

    async def send(self, request: Any, **config: Any) -> Any:
        body = request.content if hasattr(request, "content") else request.data
        if isinstance(body, str):
            body = body.encode()
        self.calls.record(request.method, request.url, body if isinstance(body, bytes) else b"")
        return await super().send(request, **config)


def table_service(connection_string: str, calls: TableCalls) -> Any:
    """A TableServiceClient with the options ``StatusStore.from_settings`` uses, counted."""
    from azure.data.tables.aio import TableServiceClient

    transport = CountingTransport(calls, connection_timeout=5, read_timeout=20)
    return TableServiceClient.from_connection_string(
        connection_string, transport=transport, retry_total=2
    )


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: the latter keeps the parent's peak
    across fork and exec (see tools.bench_host)."""
    with contextlib.suppress(OSError, AttributeError):
        found = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def naive_poll(graph_url: str, connection_string: str, table_name: str, sample: int) -> dict:
    """The poller of most samples: list, then per profile one GET and one upsert, in turn.

    Only the first ``sample`` profiles are read and written; the listing is whole.
    """
    import httpx

    calls = TableCalls()
    service = table_service(connection_string, calls)
    async with service, httpx.AsyncClient(timeout=30) as graph:
        table = service.get_table_client(table_name)
        started = time.perf_counter()
        await service.create_table_if_not_exists(table_name)
        profiles: list[dict[str, Any]] = []
        pages = 0
        url: str | None = f"{graph_url}{PROFILES_PATH}"
        while url:
            response = await graph.get(url)
            response.raise_for_status()
            page = response.json()
            profiles += page["value"]
            pages += 1
            url = page.get("@odata.nextLink")
        listed = time.perf_counter()
        for profile in profiles[:sample]:
            response = await graph.get(f"{graph_url}{PROFILES_PATH}/{profile['id']}/profileStatus")
            response.raise_for_status()
            entity = {"PartitionKey": "profiles", "RowKey": profile["id"], "status": response.text}
            await table.upsert_entity(entity)
        finished = time.perf_counter()
    return {
        "wall_s": finished - started,
        "listing_s": listed - started,
        "listed": len(profiles),
        "listing_pages": pages,
        "sampled": min(sample, len(profiles)),
        "table": calls.to_json(),
    }


async def app_poll(graph_url: str, connection_string: str, table_prefix: str) -> dict:
    """The app's own poll, on a StatusStore whose Table calls are counted."""
    from shared.graph.client import GraphClient
    from shared.polling.engine import poll_all_sources
    from shared.sources import load_settings
    from shared.storage.store import StatusStore
    from shared.storage.tables import TableService

    settings = load_settings(
        {
            "AzureWebJobsStorage": connection_string,
            "GRAPH_BASE_URL": graph_url,
            "GRAPH_AUTH": "none",
            "STATUS_TABLE_PREFIX": table_prefix,
        }
    )
    calls = TableCalls()
    store = StatusStore(
        TableService(table_service(connection_string, calls), settings.table_prefix)
    )
    try:
        started = time.perf_counter()
        async with GraphClient.from_settings(settings) as graph:
            runs = await poll_all_sources(settings, store, graph)
        finished = time.perf_counter()
    finally:
        await store.close()
    return {
        "wall_s": finished - started,
        "runs": [{"outcome": run.outcome, "counts": run.counts} for run in runs],
        "table": calls.to_json(),
    }


def worker(args: argparse.Namespace) -> int:
    if args.worker == "naive":
        table = f"{args.table_prefix}{NAIVE_TABLE_SUFFIX}"
        poll = naive_poll(args.graph_url, args.storage, table, args.sample)
    else:
        poll = app_poll(args.graph_url, args.storage, args.table_prefix)
    result = asyncio.run(poll)
    result["peak_rss_mb"] = peak_rss_mb()
    print_result(result)
    return 0


# -- the parent: the stack, the runs and the report --------------------------------------------


@dataclass(frozen=True)
class Poll:
    """One measured poll; naive figures already scaled to N when it was sampled."""

    wall_s: float
    graph_requests: float
    subrequests: float
    throttled: float
    table_reads: float
    table_writes: float
    status_writes: float
    peak_rss_mb: float
    extrapolated: bool = False
    outcome: str = ""
    failed: int = 0
    # Writes by table (prefix dropped) and table creations, as measured (not scaled).
    writes_by_table: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class SizeResult:
    size: int
    listing_pages: int
    naive: tuple[Poll, Poll]
    app: tuple[Poll, Poll]
    naive_sample: int


class Tenant:
    """The tenant's control API: counters and the throttling budget."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (a loopback URL we started)
            f"{self.url}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            text = reply.read()
        return json.loads(text) if text else None

    def reset_counters(self) -> None:
        self._call("DELETE", "/_tenant/counters")

    def counters(self) -> dict[str, int]:
        return self._call("GET", "/_tenant/counters")

    def set_rate_limit(self, rate: float | None, retry_after: int = 1) -> None:
        self._call("PUT", "/_tenant/rateLimit", {"rateLimit": rate, "retryAfter": retry_after})


def start_tenant(workdir: Path, size: int, args: argparse.Namespace) -> Child:
    command = [
        sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--profiles", str(size),
        "--latency-ms", f"{args.latency_ms:g}", "--page-size", str(args.page_size),
    ]  # fmt: skip
    return Child(f"graph-{size}", command, log_dir=workdir)


def run_worker(kind: str, tenant: Tenant, storage: str, prefix: str, sample: int) -> dict:
    """One poll in a worker process; its JSON result plus the tenant's counters."""
    command = [
        sys.executable, "-m", "tools.bench_poll", "--worker", kind, "--graph-url", tenant.url,
        "--storage", storage, "--table-prefix", prefix, "--sample", str(sample),
    ]  # fmt: skip
    tenant.reset_counters()
    result = worker_result(kind, command)
    result["graph"] = tenant.counters()
    return result


def to_poll(result: dict, size: int, prefix: str) -> Poll:
    """A worker's result as a Poll; a sampled naive run scaled to ``size`` profiles."""
    graph, table = result["graph"], result["table"]
    by_table = [(name.removeprefix(prefix), count) for name, count in table["writes"].items()]
    by_table.append(("table creates", table["creates"]))
    reads = sum(table["reads"].values())
    writes = sum(table["writes"].values()) + table["creates"]
    # Everything but table creation and the poll-run records: the status table, and any other
    # table a poll writes because statuses changed (the history, say).
    status_writes = sum(
        count for name, count in table["writes"].items() if not name.endswith(POLL_RUNS_TABLE)
    )
    wall, requests = result["wall_s"], graph["requestCount"]
    subrequests, throttled = graph["subrequestCount"], graph["throttledCount"]
    sampled = result.get("sampled")
    extrapolated = sampled is not None and 0 < sampled < size
    if extrapolated:
        scale = size / sampled
        wall = result["listing_s"] + (wall - result["listing_s"]) * scale
        pages = result["listing_pages"]
        requests = pages + (requests - pages) * scale
        throttled *= scale
        reads *= scale
        writes = table["creates"] + (writes - table["creates"]) * scale
        status_writes *= scale
    runs = result.get("runs", [])
    return Poll(
        wall_s=wall,
        graph_requests=requests,
        subrequests=subrequests,
        throttled=throttled,
        table_reads=reads,
        table_writes=writes,
        status_writes=status_writes,
        peak_rss_mb=result["peak_rss_mb"],
        extrapolated=extrapolated,
        outcome=",".join(run["outcome"] for run in runs),
        failed=sum(run["counts"].get("failed", 0) for run in runs),
        writes_by_table=tuple(by_table),
    )


def measure_size(
    workdir: Path, storage: str, size: int, args: argparse.Namespace
) -> tuple[SizeResult, tuple[Poll, Poll] | None]:
    """Naive and app, two polls each, on a fresh tenant of ``size`` profiles; and, when asked,
    the throttled nothing-changed app poll with its unthrottled counterpart."""
    tenant_child = start_tenant(workdir, size, args)
    with running(tenant_child):
        line = tenant_child.wait_for_line(
            lambda s: s.startswith("GRAPH_TENANT_URL="), START_TIMEOUT
        )
        tenant = Tenant(line.partition("=")[2].strip())
        run_id = uuid.uuid4().hex[:10]
        naive_prefix, app_prefix = f"BenchNaive{run_id}", f"BenchApp{run_id}"
        sample = min(args.naive_sample, size)
        raw_naive = [run_worker("naive", tenant, storage, naive_prefix, sample) for _ in range(2)]
        raw_app = [run_worker("app", tenant, storage, app_prefix, 0) for _ in range(2)]

        def app_poll_of(raw: dict) -> Poll:
            return to_poll(raw, size, app_prefix)

        throttled = None
        if args.rate_limit > 0 and size == max(args.sizes):
            tenant.set_rate_limit(args.rate_limit, args.retry_after)
            try:
                raw = run_worker("app", tenant, storage, app_prefix, 0)
            finally:
                tenant.set_rate_limit(None)
            throttled = (app_poll_of(raw_app[1]), app_poll_of(raw))
    naive = tuple(to_poll(r, size, naive_prefix) for r in raw_naive)
    app = tuple(app_poll_of(r) for r in raw_app)
    result = SizeResult(
        size=size,
        listing_pages=raw_naive[0]["listing_pages"],
        naive=(naive[0], naive[1]),
        app=(app[0], app[1]),
        naive_sample=sample,
    )
    return result, throttled


# -- printing ----------------------------------------------------------------------------------

COLUMNS = (
    "wall s", "Graph requests", "429s", "Table reads", "Table writes", "status writes",
    "peak RSS MB",
)  # fmt: skip


def _count(value: float, approx: bool) -> str:
    return f"{'~' if approx else ''}{value:,.0f}"


def _cells(poll: Poll) -> list[str]:
    approx = poll.extrapolated
    return [
        f"{'~' if approx else ''}{poll.wall_s:,.2f}",
        _count(poll.graph_requests, approx),
        _count(poll.throttled, approx),
        _count(poll.table_reads, approx),
        _count(poll.table_writes, approx),
        _count(poll.status_writes, approx),
        f"{poll.peak_rss_mb:.0f}",
    ]


def _ratio_cells(naive: Poll, app: Poll) -> list[str]:
    approx = "~" if naive.extrapolated else ""
    pairs = [
        (naive.wall_s, app.wall_s),
        (naive.graph_requests, app.graph_requests),
        (naive.throttled, app.throttled),
        (naive.table_reads, app.table_reads),
        (naive.table_writes, app.table_writes),
        (naive.status_writes, app.status_writes),
        (naive.peak_rss_mb, app.peak_rss_mb),
    ]
    cells = []
    for index, (a, b) in enumerate(pairs):
        cell = ratio(a, b)
        cells.append(f"{approx}{cell}" if index < 6 and cell.endswith("x") else cell)
    return cells


# The app lists with $top=999, the largest page Graph serves (the tenant's max_page_size).
APP_PAGE_SIZE = 999


def app_pages(size: int) -> int:
    return max(1, math.ceil(size / APP_PAGE_SIZE))


def report_size(result: SizeResult, args: argparse.Namespace) -> None:
    sampled = result.naive_sample < result.size
    print(
        f"N = {result.size:,} profiles, {args.latency_ms:g} ms per Graph answer, "
        f"listing pages of {args.page_size} for the naive poller ({result.listing_pages} "
        f"page{'s' if result.listing_pages != 1 else ''}), of {APP_PAGE_SIZE} for the app, "
        f"which asks for $top={APP_PAGE_SIZE} ({app_pages(result.size)})"
        + (f"; naive sampled on {result.naive_sample:,} profiles (~)" if sampled else "")
    )
    row("", list(COLUMNS))
    titles = ("poll 1 (cold cache)", "poll 2 (nothing changed)")
    for index, title in enumerate(titles):
        naive, app = result.naive[index], result.app[index]
        print(f"  {title}")
        row("  naive", _cells(naive))
        row("  app", _cells(app))
        row("  naive / app", _ratio_cells(naive, app))
    print("  Table writes by table, as measured:")
    for index in range(2):
        for name, poll in (("naive", result.naive[index]), ("app", result.app[index])):
            parts = ", ".join(f"{table} {count:,}" for table, count in poll.writes_by_table)
            print(f"    poll {index + 1} {name}: {parts}")
    print()


def report_throttling(
    unthrottled: Poll, throttled: Poll, size: int, args: argparse.Namespace
) -> float:
    pages = app_pages(size)
    # The budget starts full (rate tokens) and refills at rate/s: the admitted requests
    # (listing pages and sub-requests) cannot all pass sooner than this.
    floor = max(0.0, (size + pages - args.rate_limit) / args.rate_limit)
    print(
        f"Throttling at N = {size:,}: budget {args.rate_limit:,g} requests/s (a batch's "
        f"sub-requests count one each), 429 + Retry-After {args.retry_after} s beyond it; "
        "nothing-changed app polls"
    )
    row("", ["wall s", "Graph requests", "sub-requests", "429s", "failed", "peak RSS MB"])
    for label, poll in (("app, no limit", unthrottled), ("app, throttled", throttled)):
        cells = [
            f"{poll.wall_s:.2f}",
            f"{poll.graph_requests:,.0f}",
            f"{poll.subrequests:,.0f}",
            f"{poll.throttled:,.0f}",
            f"{poll.failed:,}",
            f"{poll.peak_rss_mb:.0f}",
        ]
        row(label, cells)
    row(
        "throttled / no limit",
        [
            ratio(throttled.wall_s, unthrottled.wall_s),
            ratio(throttled.graph_requests, unthrottled.graph_requests),
            ratio(throttled.subrequests, unthrottled.subrequests),
        ],
    )
    print(
        f"  the budget alone keeps a poll of {size + pages:,} admitted requests to >= {floor:.2f} s"
    )
    print()
    return floor


def report_targets(
    results: list[SizeResult],
    throttling: tuple[Poll, Poll] | None,
    floor: float,
    args: argparse.Namespace,
) -> None:
    print("Targets (shown, not asserted):")
    largest = max(results, key=lambda r: r.size)
    speedups = [largest.naive[i].wall_s / largest.app[i].wall_s for i in range(2)]
    where = f"N = {largest.size:,}, {args.latency_ms:g} ms"
    if largest.size != 10_000 or args.latency_ms != 40:
        where += " (the target is set for N = 10,000 at 40 ms)"
    print(
        f"  app >= 20x faster than naive at {where}: ~{speedups[0]:,.1f}x on poll 1, "
        f"~{speedups[1]:,.1f}x on poll 2: {verdict(min(speedups) >= 20)}"
    )
    for result in results:
        app = result.app[1]
        pages = app_pages(result.size)
        limit = math.ceil(result.size / GRAPH_BATCH_SIZE) + pages
        ok = app.status_writes == 0 and app.graph_requests <= limit
        print(
            f"  nothing-changed app poll at N = {result.size:,}: {app.status_writes:,.0f} status "
            f"writes, {app.graph_requests:,.0f} Graph requests (at most "
            f"{math.ceil(result.size / GRAPH_BATCH_SIZE):,} + {pages:,} listing "
            f"pages = {limit:,}): {verdict(ok)}"
        )
    if throttling is not None:
        unthrottled, throttled = throttling
        share = throttled.throttled / throttled.subrequests if throttled.subrequests else 0.0
        # A client that waits as told can be turned away at most once per sub-request it
        # has in flight (its concurrency x 20) each time the budget runs dry, and the budget
        # refills within a Retry-After: more 429s than that means it kept sending (a storm).
        # Imported here: the naive worker should not carry the app's modules in its RSS.
        from shared.settings import DEFAULT_GRAPH_MAX_CONCURRENCY

        in_flight = DEFAULT_GRAPH_MAX_CONCURRENCY * GRAPH_BATCH_SIZE
        periods = max(1, math.ceil(throttled.wall_s / args.retry_after))
        storm_bound = in_flight * periods
        ok = throttled.failed == 0 and throttled.throttled <= storm_bound
        print(
            f"  under throttling the app slows down as told: {throttled.wall_s:.2f} s vs "
            f"{unthrottled.wall_s:.2f} s unthrottled (the budget's floor: {floor:.2f} s), "
            f"{throttled.failed} items failed;\n"
            f"    {throttled.throttled:,.0f} 429s = {share:.1%} of "
            f"{throttled.subrequests:,.0f} sub-requests, where waiting as told allows at most "
            f"{in_flight} in flight x {periods} Retry-After periods = {storm_bound:,}: "
            f"{verdict(ok)}"
        )
    polls = [(p, "naive") for r in results for p in r.naive] + [
        (p, "app") for r in results for p in r.app
    ]
    if throttling is not None:
        polls.append((throttling[1], "app"))
    app_peak = max(p.peak_rss_mb for p, kind in polls if kind == "app")
    naive_peak = max(p.peak_rss_mb for p, kind in polls if kind == "naive")
    print(
        f"  peak RSS < 300 MB: app {app_peak:.0f} MB, naive {naive_peak:.0f} MB at most: "
        f"{verdict(max(app_peak, naive_peak) < 300)}"
    )


def report_footnotes(results: list[SizeResult], args: argparse.Namespace) -> None:
    print()
    if any(r.naive_sample < r.size for r in results):
        print(
            f"~ extrapolated: the naive poller lists all N profiles, then reads and writes only "
            f"the first {args.naive_sample:,}; its time after the listing, its profileStatus "
            "requests and its writes are scaled linearly to N (the listing is measured whole; "
            "peak RSS is as measured)."
        )
    print(
        "Table reads / writes: REST calls the TableServiceClient sent, counted at its "
        "transport (every attempt; a $batch transaction counts one, as billed). GET is a "
        "read, anything else a write. Status writes: all writes but table creation (POST "
        "/Tables, 409 once the table exists; each worker is a fresh process, so the app "
        "tries its tables on every poll, where a long-lived host does it once) and the "
        "poll-run records (PollRuns); the app's split by table is listed under each table."
    )
    print(
        "Wall s: the poll alone, timed in its own worker process after imports. Peak RSS: "
        "that worker's VmHWM (interpreter and imports included). Graph requests: HTTP requests "
        "the tenant received (a $batch of 20 counts one); 429s: its 429 answers, batched "
        "sub-requests included."
    )


def bench(args: argparse.Namespace) -> None:
    with azurite_running("bench-poll-") as (workdir, _, port):
        storage = azurite_connection_string(port)
        results: list[SizeResult] = []
        throttling: tuple[Poll, Poll] | None = None
        floor = 0.0
        for size in args.sizes:
            result, throttled = measure_size(workdir, storage, size, args)
            results.append(result)
            report_size(result, args)
            if throttled is not None:
                throttling = throttled
                floor = report_throttling(*throttled, size, args)
        report_targets(results, throttling, floor, args)
        report_footnotes(results, args)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are whole numbers >= 1, comma-separated")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_poll", description=__doc__)
    parser.add_argument("--sizes", type=_sizes, default=[1000, 10000], help="profiles per run")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="per Graph answer")
    parser.add_argument(
        "--naive-sample", type=int, default=500, help="profiles the naive poller reads at most"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=2000.0, help="throttled run's requests/s (0: none)"
    )
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, in the 429s")
    parser.add_argument("--page-size", type=int, default=100, help="listing page size")
    # The worker side, started by the parent.
    parser.add_argument("--worker", choices=("naive", "app"), help=argparse.SUPPRESS)
    parser.add_argument("--graph-url", help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    parser.add_argument("--table-prefix", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.latency_ms < 0 or args.naive_sample < 1 or args.rate_limit < 0:
        parser.error("--latency-ms and --rate-limit cannot be negative, --naive-sample >= 1")
    if args.retry_after < 1 or not 1 <= args.page_size <= 999:
        parser.error("--retry-after must be >= 1, --page-size 1 to 999")
    run_bench(parser, lambda: bench(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
