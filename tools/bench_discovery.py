"""What discovering every provisioning job costs, against the naive way: wall time and Graph
requests to find the service principals that have jobs among N, then what each later poll
asks.

``python -m tools.bench_discovery [--principals 3000] [--with-jobs 12] [--latency-ms 40]
[--naive-sample 300]``

The simulated tenant runs in this process (every Graph HTTP answer after ``--latency-ms``, a
``$batch`` once), Azurite in a child process (in memory), where discovery keeps its result.

* naive: what a script does without ``$batch``: list the service principals following
  ``@odata.nextLink``, then ask each for its jobs, one request after the other. At 40 ms that
  is minutes for 3,000, so it asks only the first ``--naive-sample`` and its time and
  requests are scaled linearly to N, marked ``~``.
* app: the jobs source's ``observe`` with discovery (``PROVISIONING_SERVICE_PRINCIPAL_IDS``
  auto): the listing, then every principal's jobs through JSON ``$batch`` (20 to a batch, up
  to GRAPH_MAX_CONCURRENCY in flight); then a second poll, which asks only the principals
  discovery found.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from shared.graph.client import GraphClient
from shared.sources import load_settings, source_named
from shared.storage.store import StatusStore
from tools import graph_tenant
from tools.processes import (
    Child,
    azurite_command,
    azurite_connection_string,
    free_azurite_port,
)

JOBS = "synchronizationJobs"


async def naive(tenant: Any, sample: int) -> tuple[float, int, int]:
    """(seconds, requests, principals asked) of one-by-one discovery of ``sample`` principals."""
    import httpx

    tenant.reset_counters()
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=tenant.url, timeout=60) as client:
        ids: list[str] = []
        url: str | None = "/v1.0/servicePrincipals?$select=id,appId,displayName&$top=999"
        while url:
            page = (await client.get(url)).json()
            ids += [principal["id"] for principal in page["value"]]
            url = page.get("@odata.nextLink")
        for sp_id in ids[:sample]:
            await client.get(f"/v1.0/servicePrincipals/{sp_id}/synchronization/jobs")
    return time.perf_counter() - started, tenant.request_count, min(sample, len(ids))


async def app_polls(tenant: Any, connection_string: str) -> list[tuple[float, int, int]]:
    """(seconds, requests, sub-requests) of a discovering poll's read, then of the next."""
    env = {
        "AzureWebJobsStorage": connection_string,
        "STATUS_TABLE_PREFIX": f"Bench{uuid.uuid4().hex[:8]}",
        "GRAPH_BASE_URL": tenant.url,
        "GRAPH_AUTH": "none",
    }
    settings = load_settings(env)
    store = StatusStore.from_settings(settings)
    source = source_named(JOBS)
    results = []
    try:
        async with GraphClient.from_settings(settings) as graph:
            for _poll in range(2):
                tenant.reset_counters()
                started = time.perf_counter()
                seen = await source.observe(graph, {}, settings, store.state_of(JOBS))
                elapsed = time.perf_counter() - started
                assert seen.entries, "discovery found no job"
                results.append((elapsed, tenant.request_count, tenant.subrequest_count))
    finally:
        await store.close()
    return results


async def bench(args: argparse.Namespace) -> None:
    port = free_azurite_port()
    logs = Path(tempfile.mkdtemp(prefix="bench-discovery-"))
    azurite = Child("azurite", azurite_command(port), log_dir=logs)
    azurite.wait_for_azurite(port, timeout=60)
    try:
        async with graph_tenant.SimulatedTenant(latency=args.latency_ms / 1000) as tenant:
            graph_tenant.populate_service_principals(tenant, args.principals - args.with_jobs, 5)
            for index in range(args.with_jobs):
                sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{index}"))
                tenant.add_service_principal(sp_id, display_name=f"App {index}")
                tenant.add_job(sp_id, template_id="scim")
            seconds, requests, asked = await naive(tenant, args.naive_sample)
            scale = args.principals / asked
            listing = requests - asked
            naive_seconds = seconds * scale
            naive_requests = listing + asked * scale
            (first, first_requests, first_batched), (later, later_requests, _) = await app_polls(
                tenant, azurite_connection_string(port)
            )
    finally:
        azurite.stop()
    n = args.principals
    print(f"Discovery of {n:,} service principals ({args.with_jobs} with jobs), Graph answers "
          f"after {args.latency_ms:g} ms")  # fmt: skip
    _row("", "naive", "app", "ratio")
    ratio = f"{naive_seconds / first:.0f}x"
    _row("discovering poll, time", f"~{naive_seconds:.1f} s", f"{first:.2f} s", ratio)
    ratio = f"{naive_requests / first_requests:.0f}x"
    _row("discovering poll, requests", f"~{naive_requests:.0f}", str(first_requests), ratio)
    _row("  of which $batch", "-", str(first_requests - listing - args.with_jobs))
    _row("  sub-requests in them", "-", str(first_batched))
    _row("next poll, requests", f"~{naive_requests:.0f}", str(later_requests))
    _row("next poll, time", f"~{naive_seconds:.1f} s", f"{later:.2f} s")
    print(f"(naive: {asked} principals asked one by one, scaled to {n:,}; listing pages: "
          f"{listing}; the app's next poll asks only the principals with jobs)")  # fmt: skip


def _row(label: str, naive: str, app: str, ratio: str = "") -> None:
    print(f"{label:28}{naive:>14}{app:>14}{ratio:>10}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--principals", type=int, default=3000)
    parser.add_argument("--with-jobs", type=int, default=12)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--naive-sample", type=int, default=300)
    asyncio.run(bench(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
