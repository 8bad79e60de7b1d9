"""The pacer of Graph's report budget (5 requests per 10 s per app and tenant): no more than
its budget starts in any window, and what waits goes as soon as the window allows."""

from __future__ import annotations

import asyncio
import time

from shared.graph.batch import LocalReportPacer


async def test_no_more_than_the_budget_starts_in_any_window() -> None:
    pacer = LocalReportPacer(requests=3, window=0.3)
    started: list[float] = []
    for _ in range(7):
        await pacer.wait()
        started.append(time.monotonic())
    for index in range(len(started) - 3):
        assert started[index + 3] - started[index] >= 0.3 - 0.01
    assert started[-1] - started[0] < 0.9  # 7 in 3 windows, not one per window


async def test_requests_waiting_side_by_side_share_the_budget() -> None:
    pacer = LocalReportPacer(requests=2, window=0.2)
    begin = time.monotonic()

    async def one() -> float:
        await pacer.wait()
        return time.monotonic() - begin

    times = sorted(await asyncio.gather(*(one() for _ in range(4))))
    assert times[1] < 0.1 and times[2] >= 0.19
