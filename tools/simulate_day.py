"""A simulated day of `make run`'s tenants: how many changes the polls record, and how many
messages the subscribers get: every change (a subscription for changes, the default) or
incidents only (``filter.kinds: ["incident"]``).

``python -m tools.simulate_day [--rounds 288] [--round-seconds 2] [--ticks-per-round 15]``

What runs is `make run`'s: Azurite (in memory) and the simulated Graph with ``--demo
--demo-tenants`` (in this process, so that the demo is ticked here, between rounds, instead
of on its own clock), the demo tenants and the demo's maintenance window registered through
the app's HTTP API with the master key (``tools.demo_registry``, served by the local host's
HTTP side in this process), and two subscriptions made through the API, each pointing at a
receiver here that counts what is POSTed to it. Then ``--rounds`` rounds, each the real poll
of every tenant (``poll_every_tenant``: each tenant's sources, then its incidents' review)
and a delivery (``deliver_pending``), with ``--ticks-per-round`` demo ticks after each.

Time. The app reads the real clock, so a day cannot pass in minutes; the run is the day
compressed: rounds are ``--round-seconds`` apart instead of `make run`'s 300 (POLL_SCHEDULE,
every 5 minutes), a factor F = 300 / round seconds, and every time the app's incident and
Connect rules count is divided by F (INCIDENT_OPEN_AFTER_MINUTES,
INCIDENT_RESOLVE_AFTER_MINUTES, INCIDENT_REMIND_EVERY_HOURS, DIRECTORY_SYNC_STALE_AFTER_MINUTES;
the last takes whole minutes only, at least 1, so it is printed with what it stands for).
The demo's ticks are counted, not timed: `make run` ticks every 20 s, 15 ticks per poll, and
so does this run by default. What stays real: the demo's data made at the start (runs and
provisioning logs of hours ago, the stalled job's 26 hours) and the settings that take hours
only (PROVISIONING_STALL_AFTER_HOURS, at least 1 hour); the run prints the time that really
passed, times F, as the simulated time, and how many rounds started late.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.core.schedule import shortest_interval
from shared.settings import DEFAULT_POLL_SCHEDULE
from tools.bench_common import azurite_running, ratio, row, run_bench
from tools.graph_tenant.common import DEMO_INTERVAL_SECONDS
from tools.processes import REPO, azurite_connection_string, free_port, storage_names

POLL_SECONDS = shortest_interval(DEFAULT_POLL_SCHEDULE)  # make run's: every 5 minutes
TICK_SECONDS = DEMO_INTERVAL_SECONDS  # make run's demo interval (the simulated Graph's default)
DEFAULT_ROUNDS = 288  # a day of polls every 5 minutes
DEFAULT_ROUND_SECONDS = 2.0
TABLE_PREFIX = "SimDay"
# What the shell may have set for the app, left out of the run's settings.
APP_SETTING_PREFIXES = ("AzureWebJobs", "GRAPH_", "FUNCTIONS_", "POLL_", "STATUS_TABLE_PREFIX",
                        "INCIDENT_", "DIRECTORY_SYNC_", "PROVISIONING_", "INDUSTRY_DATA_",
                        "SDS_", "NOTIFY_WEBHOOK_URLS", "HOME_TENANT_ID",
                        "DELIVERY_QUEUE_NAME", "PUBLIC_BASE_URL")  # fmt: skip
LEAST_STALE_MINUTES = 1  # DIRECTORY_SYNC_STALE_AFTER_MINUTES takes whole minutes, >= 1


@dataclass
class Tally:
    """What was counted, per tenant id."""

    home: str = ""  # the home tenant's id (its events may name none)
    names: dict[str, str] = field(default_factory=dict)
    changes: Counter[str] = field(default_factory=Counter)  # recorded by the polls
    notices_queued: Counter[str] = field(default_factory=Counter)
    delivered: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # to, tenant, kind
    health_changes: Counter[str] = field(default_factory=Counter)  # per item id
    notices: Counter[str] = field(default_factory=Counter)  # per incident id
    window_end: str = ""
    late_rounds: int = 0
    round_seconds: list[float] = field(default_factory=list)  # each poll and delivery


def scaled_settings(factor: float) -> dict[str, str]:
    """The app's time settings divided by ``factor`` (the stale bound: whole minutes, >= 1)."""
    from shared.settings import DEFAULT_INCIDENT_RULES as RULES
    from shared.sources.directory_synchronization.settings import DEFAULT_STALE_AFTER_MINUTES

    stale = max(LEAST_STALE_MINUTES, round(DEFAULT_STALE_AFTER_MINUTES / factor))
    return {
        "INCIDENT_OPEN_AFTER_MINUTES": (
            f"error={RULES.open_after_error_minutes / factor:g},"
            f"warning={RULES.open_after_warning_minutes / factor:g}"
        ),
        "INCIDENT_RESOLVE_AFTER_MINUTES": f"{RULES.resolve_after_minutes / factor:g}",
        "INCIDENT_REMIND_EVERY_HOURS": f"{RULES.remind_every_hours / factor:g}",
        "DIRECTORY_SYNC_STALE_AFTER_MINUTES": str(stale),
    }


# -- the receiver -------------------------------------------------------------------------------


async def start_receiver(tally: Tally) -> tuple[web.AppRunner, str]:
    """A local receiver: counts each POST by path (``/changes``, ``/incidents``), tenant and
    kind (``change``, ``action``, ``incident.opened``...); answers 204."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        kind = str(body.get("kind", "change"))
        if kind == "incident":
            kind = f"incident.{body.get('event')}"
            tally.notices[str((body.get("incident") or {}).get("id"))] += 1
        tenant = body.get("tenantId") or tally.home
        tally.delivered[(request.path.strip("/"), tenant, kind)] += 1
        previous, health = body.get("previousHealth"), body.get("health")
        if kind == "change" and previous is not None and previous != health:
            tally.health_changes[str(body.get("id"))] += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/changes", receive)
    app.router.add_post("/incidents", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


# -- the app's API, in this process -------------------------------------------------------------


async def start_api() -> tuple[Any, str]:
    """The app's HTTP functions on a free port, served as the local host serves them (its
    timers and queues left out: the rounds are run here). Returns the host and its URL."""
    from tools.local_host.registry import discover, import_function_app, stop_hook
    from tools.local_host.server import LocalHost
    from tools.local_host.settings import load_config

    functions = [spec for spec in discover(import_function_app(REPO), REPO) if spec.is_http]
    host = LocalHost(load_config(REPO), functions, os.environ, on_stop=stop_hook())
    port = await host.start("127.0.0.1", 0)
    return host, f"http://127.0.0.1:{port}"


async def register(api: str, receiver: str, key: str, window_hours: float) -> str:
    """The demo tenants and window (as make run adds them), and the two subscriptions;
    returns when the window ends."""
    import httpx

    from tools.demo_registry import (
        DEMO_WINDOW_REASON,
        DEMO_WINDOW_TENANT_ID,
        WINDOWS,
        register_demo_tenants,
    )

    headers = {"x-functions-key": key}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        problems = await register_demo_tenants(client, window_hours=window_hours)
        bodies = [
            {"notificationUrl": f"{receiver}/changes"},
            {"notificationUrl": f"{receiver}/incidents", "filter": {"kinds": ["incident"]}},
        ]
        for body in bodies:
            answer = await client.post("/api/subscriptions", json=body)
            if answer.status_code != 201:
                problems.append(f"subscription: {answer.status_code} {answer.text[:200]}")
        listed = await client.get(WINDOWS, params={"tenantId": DEMO_WINDOW_TENANT_ID})
    if problems:
        raise SystemExit("Registration failed: " + "; ".join(problems))
    windows = listed.json()["value"]
    return next(w["endDateTime"] for w in windows if w["reason"] == DEMO_WINDOW_REASON)


# -- the day ------------------------------------------------------------------------------------


async def run_rounds(args: argparse.Namespace, tickers: list[Any], tally: Tally) -> float:
    """The rounds, paced ``args.round_seconds`` apart (a round that ends late starts the
    next at once, counted); returns the seconds they took."""
    from shared import composition
    from shared.polling.round import poll_every_tenant
    from shared.webhooks.delivery import deliver_pending

    settings, store = composition.services()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for number in range(args.rounds):
        wait = started + number * args.round_seconds - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif number and -wait > args.round_seconds * 0.25:
            tally.late_rounds += 1
        began = loop.time()
        polls = await poll_every_tenant(
            settings, store, composition.tenant_graph_client,
            deadline_seconds=settings.poll_deadline_seconds,
        )  # fmt: skip
        for poll in polls:
            tenant = poll.tenant.tenantId
            tally.names[tenant] = poll.tenant.displayName or tenant
            tally.changes[tenant] += sum(run.changes_recorded for run in poll.runs)
            tally.notices_queued[tenant] += poll.notices
        await deliver_pending(store, settings)
        tally.round_seconds.append(loop.time() - began)
        for ticker in tickers:
            for _ in range(args.ticks_per_round):
                ticker.tick()
        if args.progress and (number + 1) % 24 == 0:
            print(f"... round {number + 1}/{args.rounds}", file=sys.stderr, flush=True)
    # What the last round queued is delivered too (a later poll's delivery would).
    await deliver_pending(store, settings)
    return loop.time() - started


async def incidents_by_tenant() -> dict[str, list[Any]]:
    """Every incident of each tenant polled (the run's tables are its own: all of this run)."""
    from shared import composition
    from shared.tenants.registry import every_tenant, scope_of

    settings, store = composition.services()
    found = {}
    for tenant in await every_tenant(settings, store):
        found[tenant.tenantId] = await store.for_tenant(scope_of(tenant)).incidents.listing()
    return found


def app_settings(azurite_port: int, graph: Any, key: str, scaled: dict[str, str]) -> None:
    """The app's settings, in the environment (where it reads them), as make run gives them
    for its demo tenants, with the scaled times; what the shell set for the app is left out."""
    for name in [name for name in os.environ if name.startswith(APP_SETTING_PREFIXES)]:
        del os.environ[name]
    os.environ.update(
        {
            "AzureWebJobsStorage": azurite_connection_string(azurite_port),
            **storage_names(TABLE_PREFIX),
            "GRAPH_BASE_URL": graph.url,
            "GRAPH_AUTH": "simulated",
            "HOME_TENANT_ID": graph.tenant_id,
            "INDUSTRY_DATA_RUNS_ENABLED": "true",
            "PROVISIONING_LOGS_ENABLED": "true",
            "ALLOW_INSECURE_WEBHOOKS": "true",  # the receiver is on loopback, over http
            "POLL_SCHEDULE": DEFAULT_POLL_SCHEDULE,
            "FUNCTIONS_MASTER_KEY": key,
            **scaled,
        }
    )


async def simulate(args: argparse.Namespace, azurite_port: int) -> dict[str, Any]:
    """Make run's demo tenants (in this process), the app's API, the receivers; the rounds."""
    from tools.demo_registry import DEMO_WINDOW_HOURS
    from tools.graph_tenant import SimulatedTenant
    from tools.graph_tenant.demo import demo_tickers

    factor = POLL_SECONDS / args.round_seconds
    scaled = scaled_settings(factor)
    key = secrets.token_urlsafe(24)
    async with SimulatedTenant() as graph:
        tickers = demo_tickers(graph, demo=True, demo_tenants=True, seed=1)
        app_settings(azurite_port, graph, key, scaled)
        tally = Tally(home=graph.tenant_id)
        receiver, receiver_url = await start_receiver(tally)
        try:
            host, api = await start_api()
            try:
                window_hours = DEMO_WINDOW_HOURS / factor
                tally.window_end = await register(api, receiver_url, key, window_hours)
                seconds = await run_rounds(args, tickers, tally)
                incidents = await incidents_by_tenant()
            finally:
                await host.stop()  # closes the app's store too (on_host_stop)
        finally:
            await receiver.cleanup()
    return {"factor": factor, "settings": scaled, "seconds": seconds, "tally": tally,
            "incidents": incidents}  # fmt: skip


# -- the report ---------------------------------------------------------------------------------

COLUMNS = ["changes", "change events", "incidents", "resolved", "opened", "reminders",
           "resolved", "notices"]  # fmt: skip


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    factor, tally = result["factor"], result["tally"]
    simulated_h = result["seconds"] * factor / 3600
    print(f"A simulated day of make run's tenants: {args.rounds} rounds")
    print(
        f"  time compressed {factor:g}x: a round every {args.round_seconds:g} s for every "
        f"{POLL_SECONDS:g} s; {args.ticks_per_round} demo ticks per round "
        f"(make run: one every {TICK_SECONDS:g} s)"
    )
    print(
        f"  took {result['seconds']:.0f} s: {simulated_h:.1f} h simulated "
        f"({args.rounds * POLL_SECONDS / 3600:.1f} h planned); rounds started late: "
        f"{tally.late_rounds}"
    )
    took = tally.round_seconds
    print(
        f"  a round (every tenant's poll, then the delivery) took {statistics.median(took):.2f} s "
        f"(median), {max(took):.2f} s at most"
    )
    stale = int(result["settings"]["DIRECTORY_SYNC_STALE_AFTER_MINUTES"])
    print("  the app's settings for the run (each default divided by the factor):")
    for name, value in result["settings"].items():
        print(f"    {name}={value}")
    print(
        f"    (the Connect bound stands for {stale * factor:g} simulated minutes, not 120: "
        "it takes whole minutes only)"
    )
    print()
    report_tenants(tally, result["incidents"])
    report_demo(tally, [i for found in result["incidents"].values() for i in found])


COLUMNS = ["changes", "change events", "incidents", "resolved", "opened", "reminders",
           "resolved", "notices"]  # fmt: skip


def report_tenants(tally: Tally, incidents: dict[str, list[Any]]) -> None:
    """A row per tenant and the total: changes recorded and delivered, incidents opened and
    resolved, and the incident notices delivered (opened, reminders, resolved, all)."""
    print("  changes: recorded by the polls; change events: POSTed to the change subscription;")
    print("  incidents: opened, of which resolved; then the notices POSTed to the incident")
    print("  subscription (opened, reminders, resolved) and their sum")
    row("tenant", COLUMNS)
    total = [0] * len(COLUMNS)
    for tenant, name in tally.names.items():
        cells = tenant_cells(tenant, tally, incidents.get(tenant, []))
        total = [a + b for a, b in zip(total, cells, strict=True)]
        row(name[:24], [f"{cell:,}" for cell in cells])
    row("all tenants", [f"{cell:,}" for cell in total])
    changes, events, notices = total[0], total[1], total[-1]
    queued = sum(tally.notices_queued.values())
    print()
    print(
        f"  Messages: {changes:,} changes recorded, {events:,} change events delivered; "
        f"{notices:,} incident notices delivered ({queued:,} queued): "
        f"{ratio(changes, notices)} fewer messages"
    )


def tenant_cells(tenant: str, tally: Tally, incidents: list[Any]) -> list[int]:
    mine = {(to, kind): n for (to, t, kind), n in tally.delivered.items() if t == tenant}
    events = sum(n for (to, _kind), n in mine.items() if to == "changes")
    notices = [
        mine.get(("incidents", f"incident.{e}"), 0) for e in ("opened", "reminder", "resolved")
    ]
    resolved = sum(1 for incident in incidents if incident.state == "resolved")
    return [tally.changes[tenant], events, len(incidents), resolved, *notices, sum(notices)]


def report_demo(tally: Tally, incidents: list[Any]) -> None:
    """What the demo's fixed behaviours made: the flapping job, the Connect outage, the
    maintenance window; and the incidents by source."""
    from tools.demo_registry import DEMO_WINDOW_REASON, DEMO_WINDOW_SOURCE, DEMO_WINDOW_TENANT_ID
    from tools.graph_tenant.provisioning_demo import DEMO_FLAPPING_JOB_ID

    flapping = [i for i in incidents if DEMO_FLAPPING_JOB_ID in i.itemId]
    flaps = sum(n for item, n in tally.health_changes.items() if DEMO_FLAPPING_JOB_ID in item)
    connect = [i for i in incidents if i.source == "directorySynchronization"]
    windowed = [
        i for i in incidents
        if i.tenantId == DEMO_WINDOW_TENANT_ID and i.source == DEMO_WINDOW_SOURCE
        and i.openedDateTime < tally.window_end
    ]  # fmt: skip
    print()
    print("  The demo's behaviours:")
    print(
        f"    flapping job (Slack): {flaps} health changes, {len(flapping)} incident(s), "
        f"{notices(tally, flapping)} notice(s)"
    )
    print(
        f"    Connect outage: {len(connect)} incident(s), "
        f"{sum(i.state == 'resolved' for i in connect)} resolved, "
        f"{notices(tally, connect)} notice(s)"
    )
    print(
        f"    maintenance window ({DEMO_WINDOW_REASON!r}): {len(windowed)} incident(s) opened "
        f"under it, {sum(1 for i in windowed if not tally.notices[i.id])} never announced, "
        f"{notices(tally, windowed)} notice(s)"
    )
    print("  incidents by source (opened, resolved, notices):")
    for source in sorted({i.source for i in incidents}):
        mine = [i for i in incidents if i.source == source]
        resolved = sum(1 for i in mine if i.state == "resolved")
        print(f"    {source:<36}{len(mine):>8}{resolved:>8}{notices(tally, mine):>8}")


def notices(tally: Tally, incidents: list[Any]) -> int:
    """The notices delivered of these incidents."""
    return sum(tally.notices[incident.id] for incident in incidents)


def parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m tools.simulate_day",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="polls of every tenant")
    parser.add_argument(
        "--round-seconds", type=float, default=DEFAULT_ROUND_SECONDS,
        help=f"real seconds between rounds (make run: {POLL_SECONDS:g})",
    )  # fmt: skip
    parser.add_argument(
        "--ticks-per-round", type=int, default=round(POLL_SECONDS / TICK_SECONDS),
        help="demo ticks between two rounds (make run: a poll every 5 min, a tick every 20 s)",
    )  # fmt: skip
    parser.add_argument("--progress", action="store_true", help="a line every 24 rounds")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.round_seconds <= 0 or args.ticks_per_round < 0:
        parser.error("--rounds must be >= 1, --round-seconds > 0, --ticks-per-round >= 0")
    return parser, args


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv)
    # The app's warnings (the tenant that has not consented, at every poll) would drown the
    # report: errors only.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)

    def day() -> dict[str, Any]:
        with azurite_running("simulate-day-") as (_workdir, _azurite, port):
            return asyncio.run(simulate(args, port))

    started = time.monotonic()
    result = run_bench(parser, day)
    report(args, result)
    print(f"\n  (wall time with start-up: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
