"""The benchmark's worker processes, each measuring itself (``marks.WorkerMeter``: Table
calls, CPU time, peak RSS, written at each mark).

* ``host``: a real local Functions host (``tools.local_host``'s own ``main``, given the
  arguments after ``--``), the stand-in for one instance: it consumes the poll queue with
  host.json's ``extensions.queues`` semantics and runs ``poll_tenant_from_queue``, as in
  Azure; its timer is set a year away (the driver plans the rounds). The one thing added is
  the counting transport under the app's TableServiceClient.
* ``baseline``: the single invocation of the many-tenants issue: on each SIGUSR2 one
  ``poll_every_tenant`` (TENANTS_AT_ONCE at a time), as the timer ran it before the fan-out,
  with ``composition``'s store and ``tenant_graph_client``; then it writes the round's mark
  (``<name>-round``: wall time, tenants polled, outcomes).

Both read the app settings from the environment, as the app does.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from tools.bench_tenants.marks import MARK_SIGNAL, ROUND_SIGNAL, WorkerMeter, write_mark


def host(args: argparse.Namespace, host_args: list[str]) -> int:
    meter = WorkerMeter()
    meter.count_table_calls()
    # Runs in the main thread between two bytecodes: the local host's loop is woken by its
    # own signal handling's wake-up descriptor.
    signal.signal(MARK_SIGNAL, lambda *_: write_mark(args.marks, args.name, meter.period()))
    from tools.local_host.__main__ import main as host_main

    return host_main(host_args)


async def one_round(args: argparse.Namespace) -> None:
    from shared import composition
    from shared.polling.round import poll_every_tenant

    settings, store = composition.services()
    started = time.perf_counter()
    polls = await poll_every_tenant(
        settings, store, composition.tenant_graph_client,
        deadline_seconds=settings.poll_deadline_seconds,
    )  # fmt: skip
    wall = time.perf_counter() - started
    outcomes = Counter(run.outcome for poll in polls for run in poll.runs)
    write_mark(
        args.marks,
        f"{args.name}-round",
        {"wall_s": wall, "tenants_polled": len(polls), "outcomes": dict(outcomes)},
    )


async def baseline(args: argparse.Namespace) -> int:
    from shared import composition

    meter = WorkerMeter()
    meter.count_table_calls()
    loop = asyncio.get_running_loop()
    stop, asked = asyncio.Event(), asyncio.Queue[None]()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(MARK_SIGNAL, lambda: write_mark(args.marks, args.name, meter.period()))
    loop.add_signal_handler(ROUND_SIGNAL, asked.put_nowait, None)
    print("Baseline worker ready", flush=True)
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            next_round = asyncio.create_task(asked.get())
            await asyncio.wait({stopping, next_round}, return_when=asyncio.FIRST_COMPLETED)
            if next_round.done():
                await one_round(args)
            else:
                next_round.cancel()
    finally:
        stopping.cancel()
        await composition.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    own, host_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="python -m tools.bench_tenants.worker")
    parser.add_argument("kind", choices=("host", "baseline"))
    parser.add_argument("--marks", type=Path, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(own)
    if args.kind == "host":
        return host(args, host_args)
    return asyncio.run(baseline(args))


if __name__ == "__main__":
    sys.exit(main())
