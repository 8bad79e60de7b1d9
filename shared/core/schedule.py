"""NCRONTAB schedules (Azure Functions' cron: six fields, seconds first)."""

from __future__ import annotations

import itertools
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


def shortest_interval(expression: str, *, firings: int = 50) -> float:
    """The shortest gap in seconds between two runs of the schedule, over its next
    ``firings`` runs (a schedule of "every 5 minutes" gives 300)."""
    schedule = croniter(
        validate_schedule(expression), datetime(2026, 1, 1), second_at_beginning=True
    )
    times = [schedule.get_next(float) for _ in range(firings)]
    return min(later - earlier for earlier, later in itertools.pairwise(times))
