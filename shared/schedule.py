"""NCRONTAB schedules (Azure Functions' cron: six fields, seconds first)."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter


def normalize_schedule(expression: str) -> str:
    """The six-field form of an NCRONTAB expression; five fields mean second 0, as in Azure
    Functions. Raises ValueError when it is not a schedule."""
    fields = expression.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    normalized = " ".join(fields)
    if len(fields) != 6 or not croniter.is_valid(normalized, second_at_beginning=True):
        raise ValueError(f"{expression!r} is not an NCRONTAB expression")
    return normalized


def next_run_after(expression: str, moment: datetime) -> datetime:
    """When the schedule fires next after ``moment`` (an aware datetime)."""
    schedule = croniter(normalize_schedule(expression), moment, second_at_beginning=True)
    return schedule.get_next(datetime)
