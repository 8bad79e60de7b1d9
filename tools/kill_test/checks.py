"""What the kill test checks once every round is over: for each item, the history against
the statuses the tenant went through, the events against the history, the cache against
Graph."""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass, field
from typing import Any

Transition = tuple[str | None, str | None]


@dataclass
class Tally:
    """Changes made, and what went wrong with them (every count but ``changes`` must be 0,
    ``redelivered`` apart: an event sent again after a kill, with its own event id)."""

    changes: int = 0
    lost_in_history: int = 0
    twice_in_history: int = 0
    broken_chains: int = 0
    events_expected: int = 0
    events_lost: int = 0
    events_twice: int = 0
    events_out_of_order: int = 0
    redelivered: int = 0
    cache_not_graph: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.lost_in_history + self.events_lost

    @property
    def duplicated(self) -> int:
        return self.twice_in_history + self.events_twice

    @property
    def clean(self) -> bool:
        faults = (self.lost, self.duplicated, self.broken_chains, self.events_out_of_order)
        return not any(faults) and not self.cache_not_graph

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def check_item(
    tally: Tally,
    item_id: str,
    statuses: list[str | None],
    history: list[dict[str, Any]],
    events: list[dict[str, Any]],
    cached: str | None,
) -> None:
    """``statuses``: what the item was in the tenant, round by round (None: not there; the
    first one before the subscriber came: history only, no event); ``history`` newest
    first, as served; ``events`` as the receiver got them, in order."""
    expected: list[Transition] = [(None, statuses[0])]
    expected += [(a, b) for a, b in itertools.pairwise(statuses) if a != b]
    tally.changes += len(expected)
    recorded = [(c["previousStatus"], c["status"]) for c in reversed(history)]
    lost, twice = _difference(expected, recorded)
    tally.lost_in_history += lost
    tally.twice_in_history += twice
    if lost or twice:
        tally.note(f"{item_id}: history {recorded}, expected {expected}")
    for newer, older in itertools.pairwise(history):
        # An item that was removed comes back as a new one: its chain starts again.
        before = (None, None) if older["status"] is None else (older["status"], older["health"])
        if (newer["previousStatus"], newer["previousHealth"]) != before:
            tally.broken_chains += 1
            tally.note(f"{item_id}: {older['status']} is followed by {newer}")
    _check_events(tally, item_id, expected[1:], events)
    if cached != statuses[-1]:
        tally.cache_not_graph += 1
        tally.note(f"{item_id}: cached {cached!r}, Graph has {statuses[-1]!r}")


def _check_events(
    tally: Tally, item_id: str, expected: list[Transition], events: list[dict[str, Any]]
) -> None:
    first_arrivals: dict[str, Transition] = {}
    for event in events:
        if event["eventId"] in first_arrivals:
            tally.redelivered += 1
            continue
        first_arrivals[event["eventId"]] = (event["previousStatus"], event["status"])
    got = list(first_arrivals.values())
    tally.events_expected += len(expected)
    lost, twice = _difference(expected, got)
    tally.events_lost += lost
    tally.events_twice += twice
    if not lost and not twice and got != expected:
        tally.events_out_of_order += 1
    if lost or twice or got != expected:
        tally.note(f"{item_id}: events {got}, expected {expected}")


def _difference(expected: list[Transition], actual: list[Transition]) -> tuple[int, int]:
    """(expected but missing, present but not expected), by the longest common subsequence."""
    matcher = difflib.SequenceMatcher(a=expected, b=actual, autojunk=False)
    common = sum(block.size for block in matcher.get_matching_blocks())
    return len(expected) - common, len(actual) - common
