"""What the status board costs at size: the time to answer ``GET /api/board`` from the cache
alone (Azurite) and the page's weight, against a naive board built the obvious way, in the
same run.

``python -m tools.bench_board [--items 2000] [--changes 3] [--runs 5]``

The cache is filled directly (no poll): ``--items`` provisioning jobs kept whole as Graph
sends them, each with ``--changes`` changes in its history over the last 30 days.

* app: the real handler (``shared.http.board.board_response``): the summary columns of every
  item, with the health timeline kept beside them, in one query; rendered once.
* naive: every item read whole (its document too), and its history asked for item by item,
  then the same page rendered.
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
from shared.http.board import board_response
from shared.sources import load_settings, source_named
from shared.storage.statuses import CacheWrite, put_pending
from shared.storage.store import StatusStore
from tools import graph_tenant
from tools.graph_tenant.provisioning_demo import generated_job_id, kind_status
from tools.processes import Child, azurite_command, azurite_connection_string, free_port

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
        entity = entry.to_entity()
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
        put_pending(entity, [PendingChange(change=change) for change in made])
        put_pending(entity, [], over=dict(entity))
        writes.append(CacheWrite("create", entity))
        history += made
    await store.statuses.write(writes)
    await store.history.record(history, [event_id(change) for change in history])


async def app_board(settings: Any, store: StatusStore) -> bytes:
    request = func.HttpRequest(
        method="GET", url="http://localhost/api/board", body=b"", params={},
        headers={"Accept-Encoding": "gzip, deflate, br"},  # as a browser asks
    )  # fmt: skip
    response = await board_response(request, lambda: (settings, store))
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
    port = free_port()
    azurite = Child("azurite", azurite_command(port), log_dir=Path(tempfile.mkdtemp()))
    azurite.wait_for_port(port, timeout=60)
    try:
        settings = load_settings({
            "AzureWebJobsStorage": azurite_connection_string(port),
            "STATUS_TABLE_PREFIX": f"Bench{uuid.uuid4().hex[:8]}", "GRAPH_AUTH": "none",
            "SDS_PROFILES_ENABLED": "false", "DIRECTORY_SYNC_ENABLED": "false",
        })  # fmt: skip
        store = StatusStore.from_settings(settings)
        try:
            await fill(store, args.items, args.changes)
            await app_board(settings, store)  # warm: templates compiled, connections open
            app_seconds, page = await timed(args.runs, lambda: app_board(settings, store))
            naive_seconds, _ = await timed(
                max(1, args.runs // 5), lambda: naive_board(settings, store)
            )
        finally:
            await store.close()
    finally:
        azurite.stop()
    print(f"The board with {args.items:,} items ({args.changes} changes each in 30 days), "
          f"median of {args.runs} answers")  # fmt: skip
    print(f"{'':24}{'naive':>12}{'app':>12}{'ratio':>8}")
    print(f"{'time to answer':24}{naive_seconds * 1000:>10.0f}ms{app_seconds * 1000:>10.0f}ms"
          f"{naive_seconds / app_seconds:>7.0f}x")  # fmt: skip
    print(f"{'page weight (gzip)':24}{'-':>12}{len(page) / 1024:>10.0f}KB")
    print(f"{'page, uncompressed':24}{'-':>12}{len(gzip.decompress(page)) / 1024:>10.0f}KB")
    print("(naive: every item read whole and its history asked item by item; the page itself "
          "is not built, so its time is a floor)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(bench(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
