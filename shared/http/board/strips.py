"""An item's health over the last 30 days, as periods drawn from its changes (the timeline
kept with the item as its changes are written: ``[[time, health], ...]``): each change
starts a period in its health, and the window opens in the health of the last change before
it (none, for an item newer than the window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from shared.core.time import parse_timestamp

WINDOW = timedelta(days=30)
# The strip's width in pixels, and how many segments it draws at most (a flapping item's
# periods are merged beyond that, so a row stays small).
_WIDTH = 240
MAX_SEGMENTS = 60


@dataclass(frozen=True)
class Period:
    """A stretch of time in one health (None: not monitored yet), as fractions of the window."""

    start: float
    width: float
    health: str | None
    began: datetime | None  # when the change that started it happened (None: before)


def periods(
    timeline: list[list[str]], current: str, now: datetime, since: str | None = None
) -> list[Period]:
    """The periods of one item, oldest first, at most MAX_SEGMENTS (merged by the worst
    health of each stretch beyond that). Before the first change it knows of, the strip has
    no record (a new item, or one whose older changes were dropped); an item with no
    timeline (kept since before there was one) is drawn in its health from ``since``."""
    start = now - WINDOW
    dated: list[tuple[datetime, str]] = []
    for moment, health in timeline:
        try:
            # A change stamped a little ahead (another instance's clock) happened by now.
            dated.append((min(parse_timestamp(moment), now), health))
        except (TypeError, ValueError):
            continue
    if not dated and since:
        try:
            dated = [(min(parse_timestamp(since), now), current)]
        except ValueError:
            dated = []
    dated.sort(key=lambda pair: pair[0])
    before = [health for at, health in dated if at < start][-1:]
    inside = [(at, health) for at, health in dated if start <= at <= now]
    if not inside:
        return [Period(0.0, 1.0, before[0] if before else current, None)]
    result = []
    if inside[0][0] > start:
        result.append(_period(start, inside[0][0], now, before[0] if before else None, None))
    # A change of status alone keeps the health: one period, from its first change.
    merged = [pair for i, pair in enumerate(inside) if i == 0 or pair[1] != inside[i - 1][1]]
    for index, (at, health) in enumerate(merged):
        end = merged[index + 1][0] if index + 1 < len(merged) else now
        result.append(_period(at, end, now, health, at))
    result = [period for period in result if period.width > 0 or period is result[-1]]
    return result if len(result) <= MAX_SEGMENTS else _bucketed(result)


def _bucketed(strip: list[Period]) -> list[Period]:
    """A flapping item's periods merged into MAX_SEGMENTS equal stretches, each in the worst
    health it saw (its title says how many changes it holds)."""
    worst = {"error": 0, "warning": 1, "unknown": 2, "healthy": 3}
    size = 1 / MAX_SEGMENTS
    buckets = []
    for index in range(MAX_SEGMENTS):
        low, high = index * size, (index + 1) * size
        inside = [p for p in strip if p.start < high and p.start + p.width > low]
        healths = [p.health for p in inside if p.health]
        health = min(healths, key=lambda h: worst.get(h, 2)) if healths else None
        began = inside[0].began if inside and len(inside) == 1 else None
        buckets.append(Period(low, size, health, began))
    return buckets


def _period(
    begin: datetime, end: datetime, now: datetime, health: Any, began: datetime | None
) -> Period:
    total = WINDOW.total_seconds()
    left = (begin - (now - WINDOW)).total_seconds() / total
    width = (end - begin).total_seconds() / total
    return Period(left, width, health if isinstance(health, str) else None, began)


def strip_svg(strip: list[Period], label: str) -> Markup:
    """The strip as inline SVG: one rectangle per period, coloured by class (the page's
    stylesheet), titled with its health and when it began. Built here rather than in the
    template: a board draws thousands."""
    parts = [
        f'<svg class="strip" width="{_WIDTH}" height="14" viewBox="0 0 {_WIDTH} 14" role="img" '
        f'aria-label="{escape(label)}">'
    ]
    for index, period in enumerate(strip):
        # The current period stays visible, however new: at least 3 px, at the right end.
        last = index == len(strip) - 1
        width = max(period.width * _WIDTH, 3) if last else period.width * _WIDTH
        left = min(period.start * _WIDTH, _WIDTH - width)
        title = period.health or "no record"
        if period.began is not None:
            title += period.began.strftime(" from %Y-%m-%d %H:%M UTC")
        parts.append(
            f'<rect class="{escape(period.health or "none")}" x="{left:.1f}" y="0" '
            f'width="{width:.1f}" height="14"><title>{escape(title)}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it was escaped above
