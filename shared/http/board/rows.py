"""What the board says of its rows besides their columns (no I/O, thread-safe): times in
words (``at 05:48 UTC, 2 h ago``), Industry Data runs folded into one row per flow (the
latest run decides its health; a newer run that succeeded supersedes an older failed one),
and what tells two rows of the same name apart."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from shared.core.health import in_words
from shared.core.time import parse_timestamp
from shared.sources.industry_data_runs.const import NAME as RUNS
from shared.sources.provisioning_jobs.const import NAME as JOBS
from shared.sources.provisioning_jobs.ids import split_job_key

# A date and time in a run's name (Graph names runs after their start:
# ``Run 2023-11-01 11:10 UTC``): not part of what the flow is.
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?Z?)?(?: UTC)?")


def flow_of(display_name: str) -> str:
    """What identifies a run's flow: its ``displayName`` without the date and time in it
    (the run document has nothing else: id, times, status, blockingError)."""
    return " ".join(_STAMP.sub(" ", display_name).split()).casefold()


class _Named(Protocol):
    source: str
    id: str
    display_name: str
    tag: str | None


R = TypeVar("R", bound=_Named)


def ago(moment: datetime, now: datetime) -> str:
    """``just now``, ``3 h 12 min ago``."""
    age = now - moment
    return "just now" if age.total_seconds() < 60 else in_words(age) + " ago"


def clock(moment: datetime, now: datetime) -> str:
    """``05:48 UTC`` today, ``Dec 5, 05:48 UTC`` another day of the year, else the date."""
    moment = moment.astimezone(UTC)
    if moment.date() == now.astimezone(UTC).date():
        return moment.strftime("%H:%M UTC")
    if moment.year == now.year:
        return moment.strftime("%b %-d, %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def when(moment: str | None, now: datetime, word: str = "at") -> str | None:
    """``at 05:48 UTC, 2 h ago`` (``word`` first), or None for no or an unreadable time."""
    if not moment:
        return None
    try:
        parsed = parse_timestamp(moment)
    except ValueError:
        return None
    return f"{word} {clock(parsed, now)}, {ago(min(parsed, now), now)}"


def since_words(moment: str | None, origin: str, now: datetime) -> str | None:
    """Graph's time: ``since 05:48 UTC, 3 h ago``; the app's first sighting: ``seen since
    …`` (the condition may have begun before)."""
    return when(moment, now, "since" if origin == "graph" else "seen since")


def run_flows(rows: Sequence[R], started: Callable[[R], str]) -> tuple[list[R], dict[str, int]]:
    """Industry Data runs folded into one row per flow (runs of one ``displayName``): the
    latest run (by ``started``) stands for its flow; the number of older runs it hides, by
    the kept row's id. Other rows pass as they are."""
    latest: dict[str, R] = {}
    hidden: dict[str, int] = {}
    for row in rows:
        if row.source != RUNS:
            continue
        flow = flow_of(row.display_name)
        kept = latest.get(flow)
        if kept is None or (started(row), row.id) > (started(kept), kept.id):
            latest[flow] = row
        hidden[flow] = hidden.get(flow, -1) + 1
    kept_ids = {row.id for row in latest.values()}
    result = [row for row in rows if row.source != RUNS or row.id in kept_ids]
    return result, {row.id: hidden[flow] for flow, row in latest.items()}


def tag_twins(rows: Sequence[_Named]) -> None:
    """Sets ``tag`` on rows that share a name in their source: what differs (a job's
    template and id tail, ``scim…8f2b``, and its service principal's id tail when that is
    not enough; another item's id tail)."""
    named: dict[tuple[str, str], list[_Named]] = {}
    for row in rows:
        named.setdefault((row.source, row.display_name.casefold()), []).append(row)
    for twins in named.values():
        if len(twins) < 2:
            continue
        tags = [_job_tag(row.id, False) if row.source == JOBS else _tail(row.id) for row in twins]
        if len(set(tags)) < len(tags) and twins[0].source == JOBS:
            tags = [_job_tag(row.id, True) for row in twins]
        for row, tag in zip(twins, tags, strict=True):
            row.tag = tag


def _job_tag(key: str, with_principal: bool) -> str:
    principal, job = split_job_key(key)
    template, _dot, rest = job.partition(".")
    tag = f"{template}…{rest[-4:]}" if rest else _tail(job)
    return f"{tag} · app …{principal[-4:]}" if with_principal else tag


def _tail(identifier: str) -> str:
    return identifier if len(identifier) <= 8 else f"…{identifier[-6:]}"
