"""What the board says of incidents and maintenance windows (no I/O, thread-safe): an
incident's row (its item, source, health, state and age in words), the order the board lists
them in (open before acknowledged, errors first, the oldest first), and the window an item
is in maintenance under (its reason and end). Times are said as the board's rows say them
(``rows.when``, ``rows.clock``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.core.incidents import OPEN_ENDED, Incident, IncidentEntry, MaintenanceWindow
from shared.core.time import graph_timestamp, parse_timestamp
from shared.http.board.rows import clock, when
from shared.sources import SOURCES

_TITLES = {source.name: source.title for source in SOURCES}
_HEALTH_RANK = {"error": 0, "warning": 1}
_STATE_RANK = {"open": 0, "acknowledged": 1}


@dataclass(frozen=True)
class Marks:
    """What changes besides the items (an acknowledgement, a window made or ended): the
    tenant's incidents not resolved and its maintenance windows not over, as read at
    ``at`` (a Graph timestamp)."""

    incidents: tuple[Incident, ...] = ()
    windows: tuple[MaintenanceWindow, ...] = ()
    at: str = ""
    # Each incident's id and ETag: what a change of one changes (``cache.version_of``).
    etags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Maintenance:
    """An item in maintenance: the window's reason and when it ends (in words)."""

    reason: str
    until: str
    end: str


@dataclass(frozen=True)
class IncidentRow:
    """One incident as the board lists it."""

    id: str
    tenant_id: str | None
    source: str
    source_title: str
    item_id: str
    name: str
    health: str  # the item's health at the last review
    worst: str  # the worst while it was open
    state: str
    state_words: str
    since: str
    since_words: str | None
    opened_words: str | None
    reason: str | None
    timeline: tuple[IncidentEntry, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        """``Error on Nightly roster``."""
        return f"{self.worst.capitalize()} on {self.name}"


def incident_row(incident: Incident, now: datetime) -> IncidentRow:
    return IncidentRow(
        id=incident.id, tenant_id=incident.tenantId, source=incident.source,
        source_title=_TITLES.get(incident.source, incident.source), item_id=incident.itemId,
        name=incident.displayName or incident.itemId, health=str(incident.currentHealth),
        worst=str(incident.health), state=incident.state, state_words=state_words(incident, now),
        since=incident.sinceDateTime, since_words=when(incident.sinceDateTime, now, "since"),
        opened_words=when(incident.openedDateTime, now), reason=incident.reason,
        timeline=tuple(reversed(incident.timeline)),  # newest first, as an item's history
    )  # fmt: skip


def incident_rows(incidents: Iterable[Incident], now: datetime) -> list[IncidentRow]:
    """The rows of the incidents not resolved: open before acknowledged, errors before
    warnings, the oldest problem first."""
    rows = [incident_row(incident, now) for incident in incidents if incident.state != "resolved"]
    return sorted(rows, key=incident_order)


def incident_order(row: IncidentRow) -> tuple[int, int, str, str, str]:
    """Open before acknowledged, errors before warnings, the oldest problem first."""
    state, health = _STATE_RANK.get(row.state, 2), _HEALTH_RANK.get(row.health, 2)
    return (state, health, row.since, row.name.casefold(), row.id)


def state_words(incident: Incident, now: datetime) -> str:
    """``open``, ``acknowledged by Ada``, ``open, snoozed until 14:00 UTC``, ``resolved by
    Ada at 15:02 UTC, 3 min ago``; a snooze that has ended is not said."""
    if incident.state == "resolved":
        by = f" by {incident.resolvedBy}" if incident.resolvedBy else " (the item recovered)"
        at = when(incident.resolvedDateTime, now)
        return f"resolved{by}" + (f" {at}" if at else "")
    words = incident.state
    if incident.state == "acknowledged" and incident.acknowledgedBy:
        words = f"acknowledged by {incident.acknowledgedBy}"
    until = incident.snoozedUntil
    if until and until > graph_timestamp(now):
        words += f", snoozed until {_moment(until, now)}"
    return words


def maintenance_of(
    windows: Sequence[MaintenanceWindow], source: str, item_id: str, now: datetime
) -> Maintenance | None:
    """The window under way that covers the item (the one ending last), or None."""
    at = graph_timestamp(now)
    covering = [window for window in windows if window.covers(source, item_id, at)]
    if not covering:
        return None
    window = max(covering, key=lambda one: one.endDateTime)
    return Maintenance(window.reason, until_words(window.endDateTime, now), window.endDateTime)


def until_words(end: str, now: datetime) -> str:
    """``until Dec 5, 14:00 UTC``; a window with no end: ``until ended by hand``."""
    if end == OPEN_ENDED:
        return "until ended by hand"
    return f"until {_moment(end, now)}"


def _moment(moment: str, now: datetime) -> str:
    try:
        return clock(parse_timestamp(moment), now)
    except ValueError:
        return moment
