"""What a round over many tenants costs: the app's round (``poll_every_tenant``, TENANTS_AT_ONCE
tenants at a time) against the same round polling the tenants one after another.

``python -m tools.bench_tenants [--tenants 100] [--items 200] [--latency-ms 40]``

Azurite runs in a child process (in memory). Each side runs in a worker process of its own
(``--worker``), so that its peak RSS is its own: the worker serves the simulated Graph
in-process (``SimulatedTenant``, every Graph HTTP answer after ``--latency-ms``, a ``$batch``
once), adds ``--tenants`` child tenants to it (``add_tenant``), each with ``--items`` School
Data Sync profiles (the same ones for both sides), registers them in the app's registry
(``shared.tenants.registry.add_tenant``, the home tenant switched off so that exactly these are
polled), then runs two rounds on its own table prefix: the first with an empty cache
(everything new), the second with Graph sending the same.

* app: ``shared.polling.round.poll_every_tenant`` as the timer calls it, with
  ``composition.tenant_graph_client`` (``GRAPH_AUTH=simulated``: a token per tenant).
* one by one (the baseline): the very same code with ``TENANTS_AT_ONCE`` patched to 1.

Graph requests are counted at the simulated tenant (each child has its own counters, reset
before each round); Table calls at the TableServiceClient's transport (``tools.bench_poll``'s
counting transport); peak RSS is the worker's VmHWM, reset before each round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

from tools.bench_common import (
    azurite_running,
    print_result,
    ratio,
    row,
    run_bench,
    verdict,
    worker_result,
)
from tools.bench_poll import (
    GRAPH_BATCH_SIZE,
    POLL_RUNS_TABLE,
    TableCalls,
    app_pages,
    peak_rss_mb,
    table_service,
)
from tools.processes import Child, azurite_connection_string

SIDES = ("sequential", "round")
TENANT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "syncstatus/bench_tenants")
COLUMNS = (
    "wall s", "CPU s", "Azurite CPU s", "Graph/tenant", "floor/tenant", "Graph total",
    "Table writes", "status writes", "peak RSS MB",
)  # fmt: skip
ROUNDS = ("round 1 (everything new)", "round 2 (Graph sends the same)")


def floor_per_tenant(items: int) -> int:
    """The fewest Graph requests a round can make for a tenant of ``items`` profiles: the
    listing's pages at $top=999 (one even when empty), then every profileStatus, 20 to a
    ``$batch``."""
    return app_pages(items) + math.ceil(items / GRAPH_BATCH_SIZE)


def tenant_ids(count: int) -> list[str]:
    return [str(uuid.uuid5(TENANT_NAMESPACE, str(index))) for index in range(count)]


# -- the worker: one side, two rounds, in its own process ------------------------------------


def reset_peak_rss() -> None:
    """Bring VmHWM down to the current RSS (Linux), so the next peak is the next round's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far (Linux); 0 if unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def clear(calls: TableCalls) -> None:
    calls.reads.clear()
    calls.writes.clear()
    calls.creates = 0


async def register(settings: Any, store: Any, ids: list[str]) -> None:
    """Every tenant in the app's registry; the home tenant (the simulated parent, which holds
    nothing) off, so that a round polls exactly the benchmark's tenants."""
    from shared.tenants.registry import add_tenant, change_tenant

    for index, tenant_id in enumerate(ids):
        body = {"tenantId": tenant_id, "displayName": f"Bench tenant {index:04d}"}
        await add_tenant(settings, store, body)
    await change_tenant(settings, store, "home", {"enabled": False}, None)


async def one_round(
    settings: Any, store: Any, graph: Any, calls: TableCalls, azurite_pid: int
) -> dict[str, Any]:
    """One ``poll_every_tenant`` as the timer runs it, measured."""
    from shared.composition import tenant_graph_client
    from shared.polling.round import poll_every_tenant

    children = list(graph.tenants.values())
    for tenant in (graph, *children):
        tenant.reset_counters()
    clear(calls)
    reset_peak_rss()
    rss_before = peak_rss_mb()
    started, cpu, azurite = time.perf_counter(), time.process_time(), cpu_seconds(azurite_pid)
    polls = await poll_every_tenant(
        settings, store, tenant_graph_client, deadline_seconds=settings.poll_deadline_seconds
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    azurite = cpu_seconds(azurite_pid) - azurite
    runs = [run for poll in polls for run in poll.runs]
    keys = sorted({key for run in runs for key in run.counts})
    counts = {key: sum(run.counts.get(key, 0) for run in runs) for key in keys}
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "azurite_cpu_s": azurite,
        "requests": [child.request_count for child in children],
        "subrequests": sum(child.subrequest_count for child in children),
        "throttled": sum(child.throttled_count for child in children),
        "parent_requests": graph.request_count,
        "tenants_polled": len(polls),
        "outcomes": dict(Counter(run.outcome for run in runs)),
        "counts": counts,
        "table": calls.to_json(),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


async def measure_side(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The side's two rounds, on a simulated Graph of its own and its own tables."""
    from shared import composition
    from shared.core.tenancy import home_scope
    from shared.polling import round as polling_round
    from shared.sources import load_settings
    from shared.storage.store import StatusStore
    from shared.storage.tables import TableService
    from tools.graph_tenant import SimulatedTenant, populate_profiles

    async with SimulatedTenant(latency=args.latency_ms / 1000) as graph:
        for index, tenant_id in enumerate(tenant_ids(args.tenants)):
            populate_profiles(graph.add_tenant(tenant_id), args.items, seed=index + 1)
        settings = load_settings({
            "AzureWebJobsStorage": args.storage, "STATUS_TABLE_PREFIX": args.table_prefix,
            "GRAPH_BASE_URL": graph.url, "GRAPH_AUTH": "simulated",
            "HOME_TENANT_ID": graph.tenant_id, "SDS_PROFILES_ENABLED": "true",
            "PROVISIONING_JOBS_ENABLED": "false", "DIRECTORY_SYNC_ENABLED": "false",
            "INDUSTRY_DATA_RUNS_ENABLED": "false", "POLL_DEADLINE_SECONDS": "86400",
        })  # fmt: skip
        calls = TableCalls()
        service = TableService(table_service(args.storage, calls), settings.table_prefix)
        store = StatusStore(service, home_scope(settings.home_tenant_id))
        at_once = 1 if args.worker == "sequential" else polling_round.TENANTS_AT_ONCE
        try:
            await register(settings, store, tenant_ids(args.tenants))
            with mock.patch.object(polling_round, "TENANTS_AT_ONCE", at_once):
                rounds = [
                    await one_round(settings, store, graph, calls, args.azurite_pid) for _ in ROUNDS
                ]
        finally:
            await store.close()
            await composition.close()
    for measured in rounds:
        measured["at_once"] = at_once
    return rounds


def worker(args: argparse.Namespace) -> int:
    rounds = asyncio.run(measure_side(args))
    print_result(rounds)
    return 0


# -- the parent: Azurite, the two sides, the table --------------------------------------------


def run_side(kind: str, azurite: Child, prefix: str, args: argparse.Namespace) -> list[dict]:
    storage, pid = azurite_connection_string(args.port), str(azurite.process.pid)
    command = [
        sys.executable, "-m", "tools.bench_tenants", "--worker", kind, "--azurite-pid", pid,
        "--storage", storage, "--table-prefix", prefix, "--tenants", str(args.tenants),
        "--items", str(args.items), "--latency-ms", f"{args.latency_ms:g}",
    ]  # fmt: skip
    rounds: list[dict] = worker_result(kind, command)
    for measured in rounds:
        measured["prefix"] = prefix
    return rounds


def bench(args: argparse.Namespace) -> dict[str, list[dict]]:
    """Both sides' rounds, by side: the baseline first, then the app, on one Azurite."""
    with azurite_running("bench-tenants-") as (_, azurite, port):
        args.port = port
        run_id = uuid.uuid4().hex[:10]
        return {
            kind: run_side(kind, azurite, f"BenchTenants{kind[:3].title()}{run_id}", args)
            for kind in SIDES
        }


def writes_by_table(measured: dict) -> dict[str, int]:
    table = measured["table"]
    return {name.removeprefix(measured["prefix"]): n for name, n in table["writes"].items()}


def status_writes(measured: dict) -> int:
    """As tools.bench_poll counts them: every write but the poll records and table creation
    (the status cache, and what a poll writes because statuses changed: history, consent)."""
    return sum(n for name, n in writes_by_table(measured).items() if name != POLL_RUNS_TABLE)


def _per_tenant(requests: list[int]) -> str:
    if not requests:
        return "-"
    low, high = min(requests), max(requests)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def _cells(measured: dict, floor: int) -> list[str]:
    table = measured["table"]
    writes = sum(table["writes"].values()) + table["creates"]
    return [
        f"{measured['wall_s']:,.2f}",
        f"{measured['cpu_s']:,.2f}",
        f"{measured['azurite_cpu_s']:,.2f}",
        _per_tenant(measured["requests"]),
        f"{floor:,}",
        f"{sum(measured['requests']):,}",
        f"{writes:,}",
        f"{status_writes(measured):,}",
        f"{measured['peak_rss_mb']:.0f}",
    ]


def _ratio_cells(baseline: dict, app: dict) -> list[str]:
    def writes(measured: dict) -> int:
        return sum(measured["table"]["writes"].values()) + measured["table"]["creates"]

    return [
        ratio(baseline["wall_s"], app["wall_s"]),
        *("",) * 4,  # CPU, Azurite's CPU, per tenant, floor
        ratio(sum(baseline["requests"]), sum(app["requests"])),
        ratio(writes(baseline), writes(app)),
        ratio(status_writes(baseline), status_writes(app)),
        ratio(baseline["peak_rss_mb"], app["peak_rss_mb"]),
    ]


def labels(sides: dict[str, list[dict]]) -> dict[str, str]:
    at_once = sides["round"][0]["at_once"]
    return {"sequential": "one by one (baseline)", "round": f"{at_once} at a time (app)"}


def report_rounds(sides: dict[str, list[dict]], args: argparse.Namespace) -> None:
    floor = floor_per_tenant(args.items)
    print(
        f"{args.tenants:,} tenants x {args.items:,} School Data Sync profiles, "
        f"{args.latency_ms:g} ms per Graph answer; floor per tenant: {app_pages(args.items)} "
        f"listing page(s) at $top=999 + {math.ceil(args.items / GRAPH_BATCH_SIZE)} $batch of "
        f"{GRAPH_BATCH_SIZE} = {floor}"
    )
    row("", list(COLUMNS))
    names = labels(sides)
    for index, title in enumerate(ROUNDS):
        print(f"  {title}")
        for kind in SIDES:
            row(f"  {names[kind]}", _cells(sides[kind][index], floor))
        baseline, app = sides["sequential"][index], sides["round"][index]
        row("  one by one / app", _ratio_cells(baseline, app))
    print()


def report_details(sides: dict[str, list[dict]]) -> None:
    names = labels(sides)
    print("Per round, as measured:")
    for index in range(len(ROUNDS)):
        for kind in SIDES:
            measured = sides[kind][index]
            tables = ", ".join(f"{t} {n:,}" for t, n in sorted(writes_by_table(measured).items()))
            counts = ", ".join(f"{k} {v:,}" for k, v in sorted(measured["counts"].items()))
            outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(measured["outcomes"].items()))
            reads = sum(measured["table"]["reads"].values())
            print(
                f"  round {index + 1}, {names[kind]}: {measured['tenants_polled']:,} tenants "
                f"polled ({outcomes}); items: {counts}\n"
                f"    Table writes: {tables or 'none'}, table creates "
                f"{measured['table']['creates']}; reads {reads:,}"
                f"\n    Graph: "
                f"{measured['subrequests']:,} sub-requests, {measured['throttled']:,} 429s, "
                f"{measured['parent_requests']:,} to the home tenant; RSS before the round "
                f"{measured['rss_before_mb']:.0f} MB"
            )
    print()


def report_targets(sides: dict[str, list[dict]], args: argparse.Namespace) -> None:
    floor = floor_per_tenant(args.items)
    app, baseline = sides["round"], sides["sequential"]
    print("Targets (shown, not asserted):")
    rewrites = status_writes(app[1])
    print(f"  unchanged round, status rewrites: {rewrites:,} (target 0): {verdict(rewrites == 0)}")
    for index, measured in enumerate(app):
        most = max(measured["requests"], default=0)
        print(
            f"  round {index + 1}, Graph requests per tenant: at most {most:,} (floor "
            f"{floor:,}): {verdict(most <= floor)}"
        )
    speedups = [b["wall_s"] / a["wall_s"] for b, a in zip(baseline, app, strict=True)]
    at_once = min(app[0]["at_once"], args.tenants)
    print(
        f"  the round vs one by one: {speedups[0]:.1f}x (round 1), {speedups[1]:.1f}x "
        f"(round 2); {at_once} tenants at a time give at most {at_once}x: "
        f"{verdict(min(speedups) >= 1)} (not slower)"
    )
    print(
        "\nTable writes: REST calls the TableServiceClient sent, counted at its transport (a "
        "$batch transaction counts one); status writes: all but the poll records (PollRuns, "
        "one per tenant and source) and table creation. Graph: HTTP requests each child "
        "tenant received (a $batch counts one). CPU s: the worker process's CPU time during the "
        "round, the app and the in-process simulated Graph together; Azurite CPU s: Azurite's "
        "(another process, the other core). Near the wall time: bound by a core. Peak "
        "RSS: the worker's VmHWM, reset before each round (the interpreter, the imports and "
        "the simulated tenants' data included)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_tenants", description=__doc__)
    parser.add_argument("--tenants", type=int, default=100, help="child tenants polled")
    parser.add_argument("--items", type=int, default=200, help="SDS profiles per tenant")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="per Graph answer")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    parser.add_argument("--table-prefix", help=argparse.SUPPRESS)
    parser.add_argument("--azurite-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.tenants < 1 or args.items < 0 or args.latency_ms < 0:
        parser.error("--tenants must be >= 1, --items and --latency-ms >= 0")
    sides = run_bench(parser, lambda: bench(args))
    report_rounds(sides, args)
    report_details(sides)
    report_targets(sides, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
