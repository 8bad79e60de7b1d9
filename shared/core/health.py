"""Health: the one verdict every monitored item gets (``healthy | warning | error |
unknown``), the rule type each source's mapping is written in, and the helpers its reason
sentences share.

Rules are tried in order and the first that matches wins; an item no rule matches is
``unknown``, so a status Graph adds later is never reported as healthy by accident. A rule
may also say when Graph says its condition began (``began``): the row's ``sinceDateTime``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import WithJsonSchema

from shared.core.time import parse_timestamp

Document = Mapping[str, Any]

MAX_REASON_LENGTH = 400


class Health(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    ERROR = "error"
    UNKNOWN = "unknown"


# Health in the API's models: its schema is the enum itself, written in place (a flow maker
# sees "healthy, warning, ..." on the property, not a reference to a Health definition).
HealthField = Annotated[
    Health, WithJsonSchema({"type": "string", "enum": [str(health) for health in Health]})
]

# (health, one sentence saying why)
Assessment = tuple[Health, str]


@dataclass(frozen=True)
class HealthRule:
    """One row of a source's mapping: for ``source``, when ``condition`` (as the README
    words it) holds of the item, its health is ``health``. ``matches`` sees the JSON Graph
    sent and the item's context (what else is known when it is judged; see ``assess``).
    ``began``, given the same, picks the time Graph gives of when the condition began (a
    quarantine's start, the last sync); None where Graph says nothing of it."""

    source: str
    condition: str
    health: Health
    matches: Callable[[Document, Document], bool]
    began: Callable[[Document, Document], Any] | None = None


Reason = Callable[[Document, Document | None], str]

# The context key of when an item was read: health that changes with time is judged then.
CHECKED_AT = "checkedDateTime"


def age_when_checked(moment: Any, context: Document) -> timedelta | None:
    """How long before the item was read ``moment`` (a Graph timestamp) was; None when the
    context has no time or ``moment`` is not a timestamp (never negative: clocks differ)."""
    try:
        age = parse_timestamp(context[CHECKED_AT]) - parse_timestamp(moment)
    except (KeyError, TypeError, ValueError):
        return None
    return max(age, timedelta(0))


def in_words(age: timedelta) -> str:
    """``3 h 12 min``, ``45 min``, ``2 d 4 h``: how long, as a person says it."""
    minutes = int(age.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def at_time(moment: Any, context: Document | None = None, *, ago: bool = False) -> str | None:
    """When ``moment`` (a Graph timestamp) was, in a reason's words; None when it is not a
    timestamp. A reason never carries a raw ISO timestamp (the exact time stays in the item).

    By default the clock form, which never changes for the same moment: ``at 05:48 UTC on
    21 Nov``. Use it wherever the reason is otherwise stable (jobs, runs, profiles): a reason
    is compared to decide whether a row is rewritten, so an age in it would rewrite the row at
    every poll. With ``ago`` (only where the age is the point and the reason already carried
    one: Entra Connect, a stalled job) and a context time (CHECKED_AT) it adds the age when
    checked: ``at 05:48 UTC, 2 h ago`` (the same UTC day as the check) or ``on 21 Nov at
    05:48 UTC, 1 d 2 h ago`` (another day); without a context time, the clock form."""
    if graph_time(moment) is None:
        return None
    when = parse_timestamp(moment).astimezone(UTC)
    clock, day = f"{when:%H:%M} UTC", f"{when.day} {when:%b}"
    age = age_when_checked(moment, context) if ago and context is not None else None
    if age is None:
        return f"at {clock} on {day}"
    checked = parse_timestamp(context[CHECKED_AT]).astimezone(UTC)  # type: ignore[index]
    if checked.date() == when.date():
        return f"at {clock}, {in_words(age)} ago"
    return f"on {day} at {clock}, {in_words(age)} ago"


def assess(
    rules: Sequence[HealthRule], reason: Reason, document: Document, extra: Document | None = None
) -> Assessment:
    """The health of one item by the first rule that matches (``unknown`` when none does),
    and one line saying why. ``document`` is the JSON Graph sent; ``extra`` the item's
    context: what else was read about it (a finished run's statistics) or what judging it
    takes besides (when it was read, a threshold from the settings), for health that changes
    with time alone."""
    rule = first_match(rules, document, extra)
    health = rule.health if rule is not None else Health.UNKNOWN
    return health, one_line(reason(document, extra))


def first_match(
    rules: Sequence[HealthRule], document: Document, extra: Document | None = None
) -> HealthRule | None:
    """The rule that decides the item's health (None: no rule matches, it is ``unknown``)."""
    context = extra if extra is not None else {}
    return next((rule for rule in rules if rule.matches(document, context)), None)


def began(
    rules: Sequence[HealthRule], document: Document, extra: Document | None = None
) -> str | None:
    """When Graph says the condition of the item's health began: the time its deciding
    rule's ``began`` picks, as Graph sent it, if that is a timestamp; None when no rule
    matches, the rule has no ``began``, or Graph sent no time (or not a time)."""
    rule = first_match(rules, document, extra)
    if rule is None or rule.began is None:
        return None
    return graph_time(rule.began(document, extra if extra is not None else {}))


def graph_time(value: Any) -> str | None:
    """``value`` if it is a timestamp as Graph writes them (kept as sent), else None."""
    if not isinstance(value, str):
        return None
    try:
        parse_timestamp(value)
    except ValueError:
        return None
    return value


def since_kept(began_now: str | None, kept: str | None, health_since: str) -> str:
    """What an item keeps as Graph's time of when its current health began ("" when Graph
    gave none): the earliest Graph has given while the health held (``kept``: what the item
    kept, None when its health has just changed; ``began_now``: what Graph says now), but
    never a time after the app's own first sighting of that health (``health_since``): that
    is a later spell of the same condition (the next failed cycle, a quarantine evaluated
    again), not its beginning."""
    times = [time for time in (kept, began_now) if time and graph_time(time) is not None]
    if graph_time(health_since) is not None:
        bound = parse_timestamp(health_since)
        times = [time for time in times if parse_timestamp(time) <= bound]
    return min(times, key=parse_timestamp, default="")


# -- the words of a reason ----------------------------------------------------------------------


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (Graph may send null)."""
    return value if isinstance(value, Mapping) else {}


def has_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def error_suffix(error: Any) -> str:
    """``": code: message"`` of a Graph error object, or nothing when it says nothing."""
    error = mapping(error)
    parts = [str(part) for part in (error.get("code"), error.get("message")) if has_text(part)]
    return f": {': '.join(parts)}" if parts else ""


def one_line(text: str) -> str:
    """Graph's messages carry line breaks (\\r\\n); a reason is one line, and a summary:
    past MAX_REASON_LENGTH it ends with an ellipsis (the whole message stays in the item)."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MAX_REASON_LENGTH:
        text = text[: MAX_REASON_LENGTH - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"
    return text
