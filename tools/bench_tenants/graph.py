"""The benchmark's simulated Graph: one process serving every tenant over HTTP, for every
configuration of the run one after another (so each sees the very same data).

``python -m tools.bench_tenants.graph --tenants N --items M --latency-ms L --log-share S
--marks DIR``: a ``SimulatedTenant`` (every Graph answer after ``--latency-ms``, a ``$batch``
once) with N child tenants, each with M School Data Sync profiles (``populate_profiles``,
seeded by the tenant's index), and for the share ``--log-share`` of them one provisioning job
with entry-level errors and a few failures in its provisioning logs. It prints
``GRAPH_TENANT_URL=`` and ``GRAPH_HOME_TENANT_ID=`` once serving.

On SIGUSR1 it writes a mark (``marks``): each tenant's Graph requests since the last mark
(a ``$batch`` counts one), sub-requests, 429s, and the time of every report request (the
provisioning logs' reads), from which the driver takes the busiest 10 s. The request log is
drained every half second into those times, so that it does not grow with the run.

On SIGUSR2 (a configuration begins: a deployment of its own, with a report budget of its
own) every tenant's window of report requests starts empty, so that one configuration's
reads are not held against the next one's (a real app's 5 per 10 s and tenant stays).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tools.bench_tenants.data import (
    FAILURES_PER_JOB,
    NEWEST_FAILURE_HOURS,
    job_id,
    reads_logs,
    service_principal_id,
    tenant_ids,
)
from tools.bench_tenants.marks import MARK_SIGNAL, NEW_DEPLOYMENT_SIGNAL, WorkerMeter, write_mark

REPORT_PATH = "/v1.0/auditLogs/"
DRAIN_SECONDS = 0.5
HOUR_NS = 3600 * 10**9


def populate(graph: Any, args: argparse.Namespace) -> None:
    """The tenants, their profiles, and the jobs with failures of a share of them."""
    from tools.graph_tenant import populate_profiles
    from tools.graph_tenant.provisioning_demo import kind_status
    from tools.graph_tenant.provisioning_log_resources import provisioning_failure

    now = time.time_ns()
    for index, tenant_id in enumerate(tenant_ids(args.tenants)):
        child = graph.add_tenant(tenant_id)
        populate_profiles(child, args.items, seed=index + 1)
        if not reads_logs(index, args.log_share):
            continue
        sp_id, job = service_principal_id(index), job_id(index)
        child.add_service_principal(sp_id, display_name=f"Bench SCIM app {index:04d}")
        child.add_job(sp_id, job, status=kind_status("EntryLevelErrors", now))
        child.add_provisioning_events(
            provisioning_failure(
                job,
                service_principal_id=sp_id,
                user=f"Bench user {number}",
                activity_ns=now - (NEWEST_FAILURE_HOURS + number) * HOUR_NS,
            )
            for number in range(FAILURES_PER_JOB)
        )


class Tally:
    """Requests since the last mark: per tenant, and the report requests' times."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.report_times: list[float] = []

    def drain(self) -> None:
        for tenant in self.graph.tenants.values():
            for request in tenant.requests:
                if not request.batched and request.path.startswith(REPORT_PATH):
                    self.report_times.append(request.time)
            tenant.clear_requests()

    def period(self) -> dict[str, Any]:
        self.drain()
        children = list(self.graph.tenants.values())
        figures = {
            "requests": {child.tenant_id: child.request_count for child in children},
            "subrequests": sum(child.subrequest_count for child in children),
            "throttled": sum(child.throttled_count for child in children),
            "parent_requests": self.graph.request_count,
            "report_times": self.report_times,
        }
        self.report_times = []
        for tenant in (self.graph, *children):
            tenant.reset_counters()
        return figures

    def new_deployment(self) -> None:
        for tenant in self.graph.tenants.values():
            tenant.set_report_rate_limit(*tenant.report_rate_limit)


async def serve(args: argparse.Namespace) -> None:
    from tools.graph_tenant import SimulatedTenant

    graph = SimulatedTenant(latency=args.latency_ms / 1000)
    populate(graph, args)
    tally, meter = Tally(graph), WorkerMeter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(
        MARK_SIGNAL, lambda: write_mark(args.marks, "graph", tally.period() | meter.period())
    )
    loop.add_signal_handler(NEW_DEPLOYMENT_SIGNAL, tally.new_deployment)
    url = await graph.start("127.0.0.1", 0)
    print(f"GRAPH_TENANT_URL={url}", flush=True)
    print(f"GRAPH_HOME_TENANT_ID={graph.tenant_id}", flush=True)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DRAIN_SECONDS)
            tally.drain()
    finally:
        await graph.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_tenants.graph")
    parser.add_argument("--tenants", type=int, required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, required=True)
    parser.add_argument("--log-share", type=float, required=True)
    parser.add_argument("--marks", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
