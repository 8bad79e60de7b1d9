"""``python -m tools.graph_tenant``: serve a simulated tenant until SIGINT or SIGTERM.

The URL is announced on stdout (``GRAPH_TENANT_URL=...``), then, when the tenant has jobs, the
service principals that have them (``PROVISIONING_SERVICE_PRINCIPAL_IDS=...``): parent
processes read these lines (an app may also find the jobs itself, by listing the service
principals). With ``--demo-tenants``, the ids of the tenants served follow
(``GRAPH_TENANT_IDS=<parent>,<school>,<unconsented>``): requests are told apart by their bearer
token's ``tid``. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from tools.graph_tenant.common import DEMO_INTERVAL_SECONDS, MAX_TOP
from tools.graph_tenant.demo import demo_tickers, run_demo
from tools.graph_tenant.education import populate_profiles
from tools.graph_tenant.industry_data import populate_runs
from tools.graph_tenant.provisioning_demo import DEMO_JOB_SERVICE_PRINCIPAL_IDS, populate_jobs
from tools.graph_tenant.server import SimulatedTenant
from tools.graph_tenant.service_principals import populate_service_principals

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.graph_tenant",
        description=(
            "Serve a simulated Microsoft Graph tenant: School Data Sync profiles, service "
            "principals and their provisioning jobs, provisioning logs, Industry Data runs and "
            "the organization."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7072, help="0 picks a free port")
    parser.add_argument("--profiles", type=int, default=0, help="generated profiles to add")
    parser.add_argument(
        "--jobs", type=int, default=0, help="generated provisioning jobs, 10 per service principal"
    )
    parser.add_argument("--runs", type=int, default=0, help="generated Industry Data runs")
    parser.add_argument(
        "--service-principals",
        type=int,
        default=0,
        help="generated service principals without jobs (for discovery)",
    )
    parser.add_argument("--demo", action="store_true", help="add demo schools that change")
    parser.add_argument(
        "--demo-tenants",
        action="store_true",
        help="serve two more tenants: a school trust, and a company that has not consented",
    )
    parser.add_argument(
        "--demo-interval", type=float, default=DEMO_INTERVAL_SECONDS, help="seconds per change"
    )
    parser.add_argument("--page-size", type=int, default=100, help=f"1 to {MAX_TOP}")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to each answer")
    parser.add_argument("--seed", type=int, default=1, help="seed of generated data")
    args = parser.parse_args(argv)
    if not 1 <= args.page_size <= MAX_TOP:
        parser.error(f"--page-size must be 1 to {MAX_TOP}")
    counts = (args.profiles, args.jobs, args.runs, args.service_principals, args.latency_ms)
    if min(counts) < 0 or args.demo_interval <= 0:
        parser.error(
            "--profiles, --jobs, --runs, --service-principals and --latency-ms cannot be negative, "
            "--demo-interval must be > 0"
        )
    return args


def populate(tenant: SimulatedTenant, args: argparse.Namespace) -> list[str]:
    """Add the data the arguments ask for; returns the service principals that have jobs."""
    populate_profiles(tenant, args.profiles, args.seed)
    sp_ids = populate_jobs(tenant, args.jobs, args.seed)
    populate_runs(tenant, args.runs, args.seed)
    populate_service_principals(tenant, args.service_principals, args.seed)
    if args.demo:
        sp_ids = [*DEMO_JOB_SERVICE_PRINCIPAL_IDS, *sp_ids]
    return sp_ids


def demos(tenant: SimulatedTenant, args: argparse.Namespace) -> list[Coroutine[Any, Any, None]]:
    """Add the demo (``--demo``) and the demo's other tenants (``--demo-tenants``); returns
    what moves their data on, one loop per tenant that changes."""
    tickers = demo_tickers(tenant, demo=args.demo, demo_tenants=args.demo_tenants, seed=args.seed)
    return [run_demo(t.tenant, t.ids, args.demo_interval, t.rng) for t in tickers]


def announce(tenant: SimulatedTenant, url: str, sp_ids: Sequence[str]) -> None:
    """The lines the parent process reads on stdout: the URL, then the service principals
    with jobs and the tenants served, when there are any."""
    print(f"GRAPH_TENANT_URL={url}", flush=True)
    # Graph cannot list jobs tenant-wide: clients are told which service principals have some
    # (or list every principal and ask each, which finds the same).
    if sp_ids:
        print(f"PROVISIONING_SERVICE_PRINCIPAL_IDS={','.join(sp_ids)}", flush=True)
    if tenant.tenants:
        print(f"GRAPH_TENANT_IDS={','.join([tenant.tenant_id, *tenant.tenants])}", flush=True)


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM, announcing the URL on stdout for the parent process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tenant = SimulatedTenant(page_size=args.page_size, latency=args.latency_ms / 1000)
    sp_ids = populate(tenant, args)
    loops = demos(tenant, args)
    try:
        url = await tenant.start(args.host, args.port)
    except OSError:
        for coroutine in loops:
            coroutine.close()
        raise
    announce(tenant, url, sp_ids)
    logger.info(
        "Serving %d profiles, %d service principals (%d with jobs), %d runs, %d more tenants; "
        "demo %s",
        len(tenant.profiles),
        len(tenant.service_principals),
        len(sp_ids),
        len(tenant.runs),
        len(tenant.tenants),
        "on" if args.demo else "off",
    )
    tasks = [asyncio.create_task(coroutine) for coroutine in loops]
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await tenant.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        logger.error("Cannot serve on %s:%s: %s", args.host, args.port, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
