"""Time as Graph writes it: ISO 8601 with an offset or ``Z`` and up to 7 fractional digits.

Graph's timestamps are kept as strings wherever they are stored or served (Python's datetime
keeps 6 fractional digits); they are parsed only to compare or order them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, StrictStr

ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_timestamp(value: str) -> datetime:
    """Check an ISO 8601 timestamp with an offset or ``Z`` (up to 7 fractional digits, as
    Graph writes them) and return it as an aware datetime (cut to microseconds)."""
    if not ISO_8601.fullmatch(value):
        raise ValueError("must be an ISO 8601 date and time with an offset or Z")
    head, dot, rest = value.partition(".")
    if dot:  # datetime keeps 6 fractional digits; the 7th only matters to the string kept.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"is not a valid date and time ({error})") from None


def _checked_timestamp(value: str) -> str:
    parse_timestamp(value)
    return value  # kept exactly as sent


# A timestamp a caller sends: checked as one, kept as the text it was.
Timestamp = Annotated[StrictStr, AfterValidator(_checked_timestamp)]


def graph_timestamp(moment: datetime) -> str:
    """A UTC time as Graph writes timestamps (ISO 8601, 7 fractional digits, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def filter_timestamp(moment: datetime) -> str:
    """A UTC time for an OData ``$filter`` on a date (``2026-11-27T10:00:00Z``): whole
    seconds, which every Graph API takes, where some refuse 7 fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> str:
    """Now, as Graph writes timestamps."""
    return graph_timestamp(datetime.now(UTC))


def timestamp_ns(value: str) -> int:
    """A timestamp as nanoseconds since the epoch (to the microsecond): keys that sort by time."""
    moment = parse_timestamp(value)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def newest_first_key(timestamp: Any, item_id: str) -> tuple[datetime, str]:
    """Sort key that puts the latest time first with ``reverse=True``: timestamps are
    compared as times (Graph varies the fractional digits, so text order is not time
    order); a missing or bad one sorts last."""
    earliest = datetime.min.replace(tzinfo=UTC)
    if isinstance(timestamp, str):
        try:
            return parse_timestamp(timestamp), item_id
        except ValueError:
            pass
    return earliest, item_id
