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
# The strip's width in pixels.
_WIDTH = 240


@dataclass(frozen=True)
class Period:
    """A stretch of time in one health (None: not monitored yet), as fractions of the window."""

    start: float
    width: float
    health: str | None
    began: datetime | None  # when the change that started it happened (None: before)


def periods(timeline: list[list[str]], current: str, now: datetime) -> list[Period]:
    """The periods of one item, oldest first."""
    start = now - WINDOW
    dated: list[tuple[datetime, str]] = []
    for moment, health in timeline:
        try:
            dated.append((parse_timestamp(moment), health))
        except (TypeError, ValueError):
            continue
    dated.sort(key=lambda pair: pair[0])
    before = [health for at, health in dated if at < start][-1:]
    inside = [(at, health) for at, health in dated if start <= at <= now]
    if not inside:
        # No change in the window: as it was before it (or as it is, with no timeline).
        return [Period(0.0, 1.0, before[0] if before else current, None)]
    result = []
    if inside[0][0] > start:
        result.append(_period(start, inside[0][0], now, before[0] if before else None, None))
    # A change of status alone keeps the health: one period, from its first change.
    merged = [pair for i, pair in enumerate(inside) if i == 0 or pair[1] != inside[i - 1][1]]
    for index, (at, health) in enumerate(merged):
        end = merged[index + 1][0] if index + 1 < len(merged) else now
        result.append(_period(at, end, now, health, at))
    return [period for period in result if period.width > 0 or period is result[-1]]


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
        title = period.health or "not monitored yet"
        if period.began is not None:
            title += period.began.strftime(" from %Y-%m-%d %H:%M UTC")
        parts.append(
            f'<rect class="{escape(period.health or "none")}" x="{left:.1f}" y="0" '
            f'width="{width:.1f}" height="14"><title>{escape(title)}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it was escaped above
