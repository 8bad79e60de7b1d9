"""NCRONTAB schedules (Azure Functions' cron: six fields, seconds first)."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter


def validate_schedule(expression: str) -> str:
    """Check a six-field NCRONTAB expression; raise ValueError otherwise. Five fields are
    refused rather than guessed: croniter would read them minutes-first."""
    if len(expression.split()) != 6 or not croniter.is_valid(expression, second_at_beginning=True):
        raise ValueError(f"{expression!r} is not a six-field NCRONTAB expression")
    return expression


def next_run_after(expression: str, moment: datetime) -> datetime:
    """When the schedule fires next after ``moment`` (an aware datetime)."""
    schedule = croniter(validate_schedule(expression), moment, second_at_beginning=True)
    return schedule.get_next(datetime)
