"""``python -m tools.kill_test``: rounds of change, poll, SIGKILL at a chosen moment, restart,
poll again; then the checks, and a report of the kills by phase and of every change lost or
repeated. Exits 1 unless nothing was lost, repeated or out of order."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from tools.kill_test.checks import Tally, check_item
from tools.kill_test.proxies import Predicate, Server
from tools.kill_test.stack import Stack

# The statuses items go through, one step a round (each differs from the one before).
CYCLE = ("success", "error", "paused", "quarantined", "inProgress")
REACH_TIMEOUT = 30.0
# Every item leaves the tenant in one round out of this many (and comes back in the next).
REMOVE_EVERY = 7
PHASES = ("graph reads", "cache writes", "before history", "outbox", "clearing", "delivery",
          "random")  # fmt: skip


def batch_to(table: str, *, clearing: bool = False) -> Predicate:
    """A batch transaction to ``table``: the writes of the poll, or its clearing of recorded
    changes (items' pendingChanges set empty) when ``clearing``."""

    def matches(method: str, path: str, body: bytes) -> bool:
        if method != "POST" or not path.endswith("/$batch") or table.encode() not in body:
            return False
        return clearing == (b'"pendingChanges": ""' in body or b'"pendingChanges":""' in body)

    return matches


def moment(
    stack: Stack, phase: str, items: int, rng: random.Random
) -> tuple[Server, Predicate, int] | None:
    """Where to hold the request that marks ``phase`` (None: a random moment instead)."""
    prefix = stack.table_prefix
    statuses_batches = math.ceil(items / 100)
    graph_batches = math.ceil(items / 20)
    anything: Predicate = lambda method, _path, _body: method == "POST"  # noqa: E731
    return {
        "graph reads": (stack.graph, batch_to(""), rng.randint(1, graph_batches)),
        "cache writes": (
            stack.storage,
            batch_to(f"{prefix}Statuses"),
            rng.randint(1, statuses_batches),
        ),
        "before history": (stack.storage, batch_to(f"{prefix}History"), 1),
        "outbox": (stack.storage, batch_to(f"{prefix}Outbox"), 1),
        "clearing": (stack.storage, batch_to(f"{prefix}Statuses", clearing=True), 1),
        "delivery": (stack.receiver, anything, rng.randint(1, items)),
    }.get(phase)  # type: ignore[return-value]


async def kill_round(stack: Stack, phase: str, items: int, rng: random.Random) -> bool:
    """Start a poll and kill the host at ``phase``; restart it and poll to the end. Whether
    the moment was reached before the kill."""
    where = moment(stack, phase, items, rng)
    reached = None
    if where is not None:
        server, matches, nth = where
        reached = server.arm(matches, nth)  # type: ignore[union-attr]
    await stack.trigger_poll()
    hit = True
    if reached is None:
        await asyncio.sleep(rng.uniform(0.05, 1.5))
    else:
        try:
            await asyncio.wait_for(reached.wait(), REACH_TIMEOUT)
        except TimeoutError:
            hit = False
    stack.kill_host()
    for server in (stack.storage, stack.graph, stack.receiver):
        server.release()  # type: ignore[union-attr]
    await stack.start_host()
    await stack.poll()
    return hit


async def change(
    stack: Stack, statuses: list[str | None], item: str, number: int, index: int
) -> None:
    """The item's next step in the tenant: a new status, or every tenth round or so, gone
    (and back in a later one, a new item then); ``statuses`` records it (None: gone)."""
    status: str | None = CYCLE[(number + index) % len(CYCLE)]
    if (number + index) % REMOVE_EVERY == 0:
        status = None if statuses[-1] is not None else status
    if status is None:
        await stack.remove_profile(item)
    elif statuses[-1] is None:
        await stack.add_profile(item, status)
    else:
        await stack.set_status(item, status)
    statuses.append(status)


async def run(items: int, kills: int, seed: int, say: Callable[[str], None]) -> dict:
    rng = random.Random(seed)
    ids = [f"school-{index:04}" for index in range(items)]
    history: dict[str, list[str | None]] = {
        item: [CYCLE[index % len(CYCLE)]] for index, item in enumerate(ids)
    }
    schedule = [PHASES[index % len(PHASES)] for index in range(kills)]
    rng.shuffle(schedule)
    stack = Stack()
    started = time.monotonic()
    try:
        await stack.start()
        for item, statuses in history.items():
            await stack.add_profile(item, statuses[0])
        await stack.poll()  # the first read: history only
        await stack.subscribe()
        kills_by_phase: Counter[str] = Counter()
        missed: Counter[str] = Counter()
        for number, phase in enumerate(schedule, start=1):
            for index, item in enumerate(ids):
                await change(stack, history[item], item, number, index)
            if await kill_round(stack, phase, items, rng):
                kills_by_phase[phase] += 1
            else:
                missed[phase] += 1
            say(f"kill {number}/{kills} at {phase}")
        await stack.poll()  # whatever is still waiting goes out
        tally = Tally()
        cached = await stack.cached_statuses()
        for item in ids:
            events = [event for event in stack.receiver.events if event["id"] == item]
            check_item(
                tally, item, history[item], await stack.history(item), events, cached.get(item)
            )
    finally:
        await stack.stop()
    return {
        "items": items,
        "kills": dict(kills_by_phase),
        "missed": dict(missed),
        "seconds": round(time.monotonic() - started, 1),
        **asdict(tally),
        "lost": tally.lost,
        "duplicated": tally.duplicated,
        "clean": tally.clean,
    }


def report(result: dict) -> str:
    kills = ", ".join(f"{phase} {result['kills'].get(phase, 0)}" for phase in PHASES)
    lines = [
        f"Kill test: {result['items']} items, {sum(result['kills'].values())} kills "
        f"in {result['seconds']} s ({kills}; moments not reached: {result['missed'] or 0})",
        f"  changes made: {result['changes']} (history), {result['events_expected']} (events)",
        f"  lost: {result['lost']} (history {result['lost_in_history']}, "
        f"events {result['events_lost']})",
        f"  duplicated: {result['duplicated']} (history {result['twice_in_history']}, "
        f"events {result['events_twice']})",
        f"  history chains broken: {result['broken_chains']}; events out of order: "
        f"{result['events_out_of_order']}; cache not Graph: {result['cache_not_graph']}",
        f"  events sent again after a kill, same event id: {result['redelivered']}",
        *(f"  e.g. {example}" for example in result["examples"]),
        "  clean: yes" if result["clean"] else "  clean: NO",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.kill_test", description=__doc__)
    parser.add_argument("--items", type=int, default=200, help="profiles in the tenant")
    parser.add_argument("--kills", type=int, default=60, help="rounds, one SIGKILL each")
    parser.add_argument("--seed", type=int, default=1, help="for the phases' order and moments")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = asyncio.run(
        run(args.items, args.kills, args.seed, lambda text: print(text, flush=True))
    )
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
