"""What the status board costs at size, in two parts, each beside a baseline in the same run.

``python -m tools.bench_board [--items 2000] [--changes 3] [--runs 5] [--viewers 50]
[--load-seconds 10] [--views 1000] [--change-every 5] [--pause 0]``

The cache is filled directly (no poll): ``--items`` provisioning jobs kept whole as Graph
sends them, each with ``--changes`` changes in its history over the last 30 days.

**One answer, in-process** (median of ``--runs``):

* app: the real handler (``shared.http.board.board_response``): the summary columns of every
  item, with the health timeline kept beside them, in one query; rendered once for a new
  version of the data (a fresh page cache each run), and answered from the page cache for
  the same version.
* naive: every item read whole (its document too), and its history asked for item by item
  (no page built: its time is a floor).

**Many viewers, through the local Functions host** (``tools.bench_board_host``: the host
started here on Azurite, one per side so each has its own peak RSS): ``--viewers``
concurrent viewers load the board (one in five with ``?health=error``), ``--pause`` s apart
(none by default: as fast as the host answers), each up to ``--views`` times, starting no
new view after ``--load-seconds``; meanwhile /api/health is asked every 50 ms (by a process
of its own, so that the viewers' own delays do not count) and one item is changed every
``--change-every`` s, as a poll or a PATCH would (each change a new version to render
under load). Last, one more change is written and the board asked until it shows it.

* baseline: the same host and routes, with the board answered as before the page cache
  (``bench_board_host.baseline_board``, at /api/bench/board): read, built, rendered and
  gzipped on the event loop for every request, with the same templates.
* app: the app as deployed (``function_app.py``): the page rendered in a worker thread once
  per version of the data, kept gzipped (``shared/http/board/cache.py``); every view takes
  the whole page.
* app, ETag: the same, its viewers asking as browsers do for a page they keep, with its ETag
  (If-None-Match): 304 until the data changes.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func

from shared.core.changes import PendingChange, StatusChange, event_id
from shared.core.time import graph_timestamp
from shared.http.board import BoardPages, board_response
from shared.sources import load_settings, source_named
from shared.storage.items import create_write
from shared.storage.poll_runs import PollRun
from shared.storage.store import StatusStore
from tools import graph_tenant
from tools.bench_board_host import GZIP, loads_of, report_load
from tools.graph_tenant.provisioning_demo import generated_job_id, kind_status
from tools.processes import (
    Child,
    azurite_command,
    azurite_connection_string,
    free_azurite_port,
    storage_names,
)

JOBS = "synchronizationJobs"
KINDS = ("Active", "EntryLevelErrors", "Quarantine", "Paused")
HEALTH_OF = {
    "Active": "healthy",
    "EntryLevelErrors": "warning",
    "Quarantine": "error",
    "Paused": "warning",
}


async def fill(store: StatusStore, items: int, changes: int) -> None:
    source = source_named(JOBS)
    now = datetime.now(UTC)
    writes, history = [], []
    for index in range(items):
        sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/sp/{index // 10}"))
        kind = KINDS[index % len(KINDS)]
        status = kind_status(kind, time.time_ns())
        job_id = generated_job_id("scim", f"bench/{index}")
        key = f"{sp_id}:{job_id}"
        entry = source.entry(key, graph_tenant.job_resource(job_id, "scim", status, None))
        entry.principal_name = f"App {index // 10}"
        entry.last_checked_date_time = entry.health_since = graph_timestamp(now)
        healths = ["healthy", "warning", "error", HEALTH_OF[kind]][-changes:]
        made = []
        for step, health in enumerate(healths):
            at = graph_timestamp(now - timedelta(days=25 - 8 * step, minutes=index % 60))
            made.append(StatusChange(
                source=JOBS, id=key, displayName=entry.display_name, previousStatus=None,
                status=kind, previousHealth=healths[step - 1] if step else None, health=health,
                changedDateTime=at, reason="Benchmark.", path=source.item_path(key),
            ))  # fmt: skip
        # As the poll writes them: the changes carried with the item (its timeline grows),
        # then recorded in the history and cleared from it.
        pending = [PendingChange(change=change) for change in made]
        writes.append(create_write(entry.record(), pending))
        history += made
    outcome = await store.statuses.write(writes)
    await store.history.record(history, [event_id(change) for change in history])
    await store.statuses.clear_pending(JOBS, outcome.etags)
    # The poll that would have written them, so that the board and /api/health report it.
    stamp = graph_timestamp(now)
    counts = {"read": items, "unchanged": items}
    await store.poll_runs.save(PollRun(
        JOBS, "succeeded", stamp, stamp, counts=counts, listed_date_time=stamp
    ))  # fmt: skip


async def app_board(settings: Any, store: StatusStore, pages: BoardPages) -> bytes:
    request = func.HttpRequest(
        method="GET", url="http://localhost/api/board", body=b"", params={}, headers=GZIP
    )
    response = await board_response(request, lambda: (settings, store), pages)
    assert response.status_code == 200, response.get_body()[:500]
    return response.get_body()


async def naive_board(settings: Any, store: StatusStore) -> int:
    """Every entity whole, then each item's history on its own: what the obvious code does."""
    entities = await store.statuses.read_source(JOBS)
    for item_id in entities:
        await store.history.page(JOBS, item_id, top=100, continuation=None)
    return len(entities)


async def timed(runs: int, work: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def bench(args: argparse.Namespace) -> None:
    port = free_azurite_port()
    azurite = Child("azurite", azurite_command(port), log_dir=Path(args.workdir))
    azurite.wait_for_azurite(port, timeout=60)
    try:
        values = {
            "AzureWebJobsStorage": azurite_connection_string(port),
            **storage_names(f"Bench{uuid.uuid4().hex[:8]}"), "GRAPH_AUTH": "none",
            "SDS_PROFILES_ENABLED": "false", "DIRECTORY_SYNC_ENABLED": "false",
            "INDUSTRY_DATA_RUNS_ENABLED": "false", "POLL_SCHEDULE": "0 0 0 1 1 *",
        }  # fmt: skip
        settings = load_settings(values)
        store = StatusStore.from_settings(settings)
        try:
            await fill(store, args.items, args.changes)
            await app_board(settings, store, BoardPages())  # warm: templates compiled
            app_seconds, page = await timed(
                args.runs, lambda: app_board(settings, store, BoardPages())
            )
            pages = BoardPages()
            await app_board(settings, store, pages)
            cached_seconds, _ = await timed(args.runs, lambda: app_board(settings, store, pages))
            naive_seconds, _ = await timed(
                max(1, args.runs // 5), lambda: naive_board(settings, store)
            )
            loads = await loads_of(values, store, args) if args.viewers > 0 else {}
        finally:
            await store.close()
    finally:
        azurite.stop()
    print(f"The board with {args.items:,} items ({args.changes} changes each in 30 days), "
          f"median of {args.runs} answers")  # fmt: skip
    print(f"{'':24}{'naive':>12}{'app':>12}{'ratio':>8}")
    print(f"{'time to answer':24}{naive_seconds * 1000:>10.0f}ms{app_seconds * 1000:>10.0f}ms"
          f"{naive_seconds / app_seconds:>7.0f}x")  # fmt: skip
    print(f"{'same version (cached)':24}{'-':>12}{cached_seconds * 1000:>10.2f}ms")
    print(f"{'page weight (gzip)':24}{'-':>12}{len(page) / 1024:>10.0f}KB")
    print(f"{'page, uncompressed':24}{'-':>12}{len(gzip.decompress(page)) / 1024:>10.0f}KB")
    print("(naive: every item read whole and its history asked item by item; the page itself "
          "is not built, so its time is a floor)")  # fmt: skip
    if loads:
        report_load(loads, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--viewers", type=int, default=50, help="0: no load through the host")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--views", type=int, default=1000, help="views per viewer at most")
    parser.add_argument("--change-every", type=float, default=5.0)
    parser.add_argument("--pause", type=float, default=0.0, help="s a viewer waits between views")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-board-") as workdir:
        args.workdir = workdir
        asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
