"""The ``$filter`` of the provisioning logs, as far as the tenant understands it: a conjunction
(`` and ``) of clauses on the activity's time, its status, its job and its cycle.

Graph's filters on the logs are case-sensitive, names and values alike: ``'Failure'`` matches
nothing, ``activitydatetime`` is no property. Any other clause is refused with a 400 that
names it, so that an app relying on a filter the tenant does not model finds out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

EventTest = Callable[[Mapping[str, Any]], bool]

# An instant as the logs' filters and events write it: UTC, any fraction of a second or none.
TIMESTAMP = r"(?P<seconds>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?Z"
TIME_CLAUSE = re.compile(rf"activityDateTime\s+(?P<op>ge|gt|le|lt|eq)\s+{TIMESTAMP}")
# A quoted OData string: a quote inside is written twice.
EQUALS_CLAUSE = re.compile(
    r"(?P<property>provisioningStatusInfo/status|jobId|cycleId)\s+eq\s+'(?P<value>(?:[^']|'')*)'"
)
# Where a conjunction splits: " and " outside quotes (quotes pair up, doubled ones included).
AND = re.compile(r"\s+and\s+")
COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "ge": lambda left, right: left >= right,
    "gt": lambda left, right: left > right,
    "le": lambda left, right: left <= right,
    "lt": lambda left, right: left < right,
    "eq": lambda left, right: left == right,
}


def timestamp_ticks(text: object) -> int | None:
    """An instant in 100-ns ticks since the epoch (Graph's precision), None for text that is
    not a UTC timestamp. Digits beyond the seventh are dropped, as Graph's precision does."""
    if not isinstance(text, str):
        return None
    match = re.fullmatch(TIMESTAMP, text)
    if match is None:
        return None
    try:
        moment = datetime.strptime(match["seconds"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    fraction = (match["fraction"] or "")[:7].ljust(7, "0")
    return int(moment.timestamp()) * 10_000_000 + int(fraction)


def split_clauses(text: str) -> list[str]:
    """The clauses of a conjunction, split at each `` and `` that is not inside quotes."""
    clauses: list[str] = []
    start = position = 0
    while position < len(text):
        if text[position] == "'":
            closing = text.find("'", position + 1)
            position = len(text) if closing < 0 else closing + 1
            continue
        match = AND.match(text, position)
        if match is not None and position > start:
            clauses.append(text[start:position])
            start = position = match.end()
            continue
        position += 1
    clauses.append(text[start:])
    return clauses


def clause_test(clause: str) -> EventTest:
    """The test of one clause; ValueError (Graph's 400 message) for a clause not understood."""
    timed = TIME_CLAUSE.fullmatch(clause)
    if timed is not None:
        bound = timestamp_ticks(timed.group(0).split()[-1])
        if bound is None:
            raise ValueError(f"Invalid filter clause: {clause}")
        compare = COMPARISONS[timed["op"]]

        def in_time(event: Mapping[str, Any]) -> bool:
            ticks = timestamp_ticks(event.get("activityDateTime"))
            return ticks is not None and compare(ticks, bound)

        return in_time
    equals = EQUALS_CLAUSE.fullmatch(clause)
    if equals is None:
        raise ValueError(f"Invalid filter clause: {clause}")
    value = equals["value"].replace("''", "'")
    if equals["property"] == "provisioningStatusInfo/status":
        return lambda event: event_status(event) == value
    name = equals["property"]
    return lambda event: event.get(name) == value


def event_status(event: Mapping[str, Any]) -> object:
    info = event.get("provisioningStatusInfo")
    return info.get("status") if isinstance(info, Mapping) else None


def parse_filter(text: str) -> EventTest:
    """The test of a whole ``$filter``: every clause must hold. ValueError (Graph's 400
    message, naming the clause) for anything but the clauses this module understands."""
    tests = [clause_test(clause.strip()) for clause in split_clauses(text.strip())]
    return lambda event: all(test(event) for test in tests)
