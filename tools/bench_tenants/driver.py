"""The driver: Azurite and the simulated Graph for the whole run, then each configuration
(the baseline, then the fan-out with each number of workers) on its own table prefix, and
so its own tables and queues: its tenants registered, its workers started, its two rounds
planned and measured, its workers stopped.

A fan-out round: every process marked, then ``plan_round`` here (one message per tenant,
POLL_SPREAD_SECONDS=0), then ``store.rounds.summary(round_id)`` read until every planned
tenant is done; the round's time runs from the plan to that. A baseline round: the
baseline worker is signalled and answers when its ``poll_every_tenant`` has returned (its
own clock times it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench_common import START_TIMEOUT, azurite_running
from tools.bench_tenants.data import app_settings, registration, tenant_ids
from tools.bench_tenants.marks import NEW_DEPLOYMENT_SIGNAL, ROUND_SIGNAL, cpu_seconds, mark
from tools.processes import REPO, Child, azurite_connection_string, storage_names

ROUNDS = ("first", "unchanged")
SUMMARY_EVERY_SECONDS = 0.5
REGISTERED_AT_ONCE = 8
HOST_START_TIMEOUT = 180.0


@dataclass
class Stack:
    """What every configuration shares: the working directory, Azurite, the simulated
    Graph and the app settings that name them."""

    workdir: Path
    marks: Path
    azurite: Child
    graph: Child
    settings: dict[str, str]
    run_id: str


@contextlib.contextmanager
def stack_running(args: argparse.Namespace) -> Iterator[Stack]:
    """Azurite (in memory) and the simulated Graph, stopped at the end whatever happens."""
    with azurite_running("bench-tenants-") as (workdir, azurite, port):
        marks = workdir / "marks"
        marks.mkdir()
        command = [
            sys.executable, "-m", "tools.bench_tenants.graph", "--tenants", str(args.tenants),
            "--items", str(args.items), "--latency-ms", f"{args.latency_ms:g}",
            "--log-share", f"{args.log_share:g}", "--marks", str(marks),
        ]  # fmt: skip
        graph = Child("graph", command, log_dir=workdir)
        try:
            timeout = START_TIMEOUT + args.tenants * args.items / 2000
            url = graph.wait_for_line(lambda x: x.startswith("GRAPH_TENANT_URL="), timeout)
            home = graph.wait_for_line(lambda x: x.startswith("GRAPH_HOME_TENANT_ID="), 10)
            settings = app_settings(
                azurite_connection_string(port), url.partition("=")[2], home.partition("=")[2]
            )
            yield Stack(workdir, marks, azurite, graph, settings, uuid.uuid4().hex[:8])
        finally:
            graph.stop()


async def register(settings: Any, store: Any, args: argparse.Namespace) -> None:
    """Every tenant in the configuration's registry (a share with provisioning jobs and
    their logs); the home tenant (the simulated parent, which holds nothing) off, so that a
    round polls exactly the benchmark's tenants."""
    from shared.tenants.registry import add_tenant, change_tenant

    limit = asyncio.Semaphore(REGISTERED_AT_ONCE)

    async def one(index: int, tenant_id: str) -> None:
        async with limit:
            await add_tenant(settings, store, registration(index, tenant_id, args.log_share))

    await asyncio.gather(*(one(i, t) for i, t in enumerate(tenant_ids(args.tenants))))
    await change_tenant(settings, store, "home", {"enabled": False}, None)


def worker_command(kind: str, name: str, marks: Path, workdir: Path) -> list[str]:
    command = [sys.executable, "-m", "tools.bench_tenants.worker", kind, "--marks", str(marks),
               "--name", name]  # fmt: skip
    if kind == "host":
        access = str(workdir / f"{name}-requests.log")
        command += ["--", "--app-dir", str(REPO), "--port", "0", "--access-log", access]
    return command


def start_workers(stack: Stack, env: dict[str, str], names: list[str], kind: str) -> list[Child]:
    """The configuration's workers, started side by side, once each says it is ready."""
    ready = "Host started" if kind == "host" else "Baseline worker ready"
    workers: list[Child] = []
    try:
        for name in names:
            command = worker_command(kind, name, stack.marks, stack.workdir)
            workers.append(Child(name, command, log_dir=stack.workdir, env=env))
        for worker in workers:
            worker.wait_for_line(lambda line: ready in line, HOST_START_TIMEOUT)
    except BaseException:
        stop_all(workers)
        raise
    return workers


def stop_all(children: list[Child]) -> None:
    for child in children:
        child.stop()


def check_alive(workers: list[Child]) -> None:
    for worker in workers:
        if worker.process.poll() is not None:
            raise worker.failure(f"exited with {worker.process.returncode} during the round")


async def until_done(store: Any, round_id: str, workers: list[Child], limit: float) -> Any:
    """The round's summary once every planned tenant's poll is done (polled, or failed for
    good); RuntimeError after ``limit`` seconds, a worker's failure if one exits."""
    deadline = time.monotonic() + limit
    while True:
        summary = await store.rounds.summary(round_id)
        if summary is not None and summary.done >= summary.planned:
            return summary
        check_alive(workers)
        if time.monotonic() > deadline:
            raise RuntimeError(f"round {round_id} not done after {limit:.0f} s: {summary}")
        await asyncio.sleep(SUMMARY_EVERY_SECONDS)


def processes(stack: Stack, workers: list[Child]) -> dict[str, int]:
    return {"graph": stack.graph.process.pid} | {w.name: w.process.pid for w in workers}


async def fanout_round(
    stack: Stack, config: Any, workers: list[Child], limit: float
) -> dict[str, Any]:
    """One round over the queue: planned here, polled by the workers, timed to done."""
    from shared.polling.fanout import plan_round

    settings, store, queues = config
    mark(stack.marks, processes(stack, workers))
    azurite = cpu_seconds(stack.azurite.process.pid)
    started = time.perf_counter()
    plan = await plan_round(settings, store, queues)
    summary = await until_done(store, plan.round_id, workers, limit)
    wall = time.perf_counter() - started
    azurite = cpu_seconds(stack.azurite.process.pid) - azurite
    marks = mark(stack.marks, processes(stack, workers))
    return {
        "wall_s": wall,
        "azurite_cpu_s": azurite,
        "graph": marks.pop("graph"),
        "workers": [marks[worker.name] for worker in workers],
        "planned": summary.planned,
        "outcomes": summary.outcomes,
        "duplicates": summary.duplicates,
    }


def baseline_round(stack: Stack, workers: list[Child], timeout: float) -> dict[str, Any]:
    """One ``poll_every_tenant`` in the baseline worker, timed by it."""
    (worker,) = workers
    mark(stack.marks, processes(stack, workers))
    azurite = cpu_seconds(stack.azurite.process.pid)
    done = mark(
        stack.marks, {f"{worker.name}-round": worker.process.pid},
        signum=ROUND_SIGNAL, timeout=timeout,
    )[f"{worker.name}-round"]  # fmt: skip
    azurite = cpu_seconds(stack.azurite.process.pid) - azurite
    marks = mark(stack.marks, processes(stack, workers))
    return {
        "wall_s": done["wall_s"],
        "azurite_cpu_s": azurite,
        "graph": marks.pop("graph"),
        "workers": [marks[worker.name]],
        "planned": done["tenants_polled"],
        "outcomes": done["outcomes"],
        "duplicates": 0,
    }


async def measure(stack: Stack, workers_count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One configuration (0 workers: the baseline), its two rounds."""
    from shared import composition
    from shared.sources import load_settings
    from shared.storage.queues import QueueService
    from shared.storage.store import StatusStore

    kind = "baseline" if workers_count == 0 else "host"
    prefix = f"BenchFan{'Base' if kind == 'baseline' else f'W{workers_count}'}{stack.run_id}"
    env = stack.settings | storage_names(prefix)
    settings = load_settings(env)
    store, queues = StatusStore.from_settings(settings), QueueService.from_settings(settings)
    os.kill(stack.graph.process.pid, NEW_DEPLOYMENT_SIGNAL)
    try:
        await register(settings, store, args)
        names = [f"w{workers_count}.{n + 1}" for n in range(workers_count)] or ["baseline"]
        workers = start_workers(stack, os.environ | env, names, kind)
        try:
            rounds = []
            for _ in ROUNDS:
                if kind == "baseline":
                    rounds.append(baseline_round(stack, workers, args.round_timeout))
                else:
                    config = (settings, store, queues)
                    rounds.append(await fanout_round(stack, config, workers, args.round_timeout))
        finally:
            stop_all(workers)
    finally:
        await queues.close()
        await store.close()
        await composition.close()
        with contextlib.suppress(Exception):  # housekeeping: never hides what failed
            await drop_storage(settings)
    return {"workers": workers_count, "prefix": prefix, "rounds": rounds}


async def drop_storage(settings: Any) -> None:
    """The configuration's tables and queues deleted once it is measured: Azurite keeps
    everything in memory, and the next configuration needs none of it."""
    from azure.data.tables.aio import TableServiceClient
    from azure.storage.queue.aio import QueueServiceClient

    connection = settings.storage.connection_string
    async with TableServiceClient.from_connection_string(connection) as tables:
        names = [table.name async for table in tables.list_tables()]
        for name in names:
            if name.startswith(settings.table_prefix):
                await tables.delete_table(name)
    async with QueueServiceClient.from_connection_string(connection) as queues:
        prefix = settings.table_prefix.lower()
        found = [queue.name async for queue in queues.list_queues(name_starts_with=prefix)]
        for name in found:
            await queues.delete_queue(name)


def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every configuration, one after another, on one Azurite and one simulated Graph."""
    configurations = ([] if args.skip_baseline else [0]) + args.workers
    results = []
    with stack_running(args) as stack:
        for count in configurations:
            label = "baseline" if count == 0 else f"{count} worker(s)"
            print(f"... {label}", file=sys.stderr, flush=True)
            results.append(asyncio.run(measure(stack, count, args)))
    return results
