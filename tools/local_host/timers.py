"""Timer triggers: NCRONTAB (or TimeSpan) schedules and the per-function scheduling loop.

Azure schedules are six-field NCRONTAB expressions with seconds first
(``0 */5 * * * *``), or a TimeSpan ``hh:mm:ss`` on dedicated plans, and may be an app
setting reference (``%POLL_SCHEDULE%``). croniter reads the six-field form when told the
seconds field comes first (``second_at_beginning=True``); a five-field expression would be
taken as minutes-first there, so it is refused instead of silently running 60x less often.

Like Core Tools, schedules run in the machine's local time zone (UTC in Azure by default).
Like Azure's timer listener, a function's timer runs never overlap: the loop waits for a run
to finish before it looks at the clock again. Occurrences that passed during a long run are
collapsed into one run that starts at once with ``past_due=True``; the others are skipped and
logged. There is no schedule monitor (``use_monitor``): past-due state is not kept across
restarts.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from azure.functions.timer import TimerRequest
from croniter import CroniterError, croniter

from .invoker import Invoker
from .registry import FunctionSpec
from .settings import HostConfigError

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "Schedule",
    "TimerScheduler",
    "local_now",
    "parse_schedule",
]

logger = logging.getLogger(__name__)

_SETTING_REFERENCE = re.compile(r"%([^%]+)%\Z")
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})\Z")
# asyncio sleeps in slices so that a wall-clock change is noticed within this time.
_MAX_SLEEP_SECONDS = 60.0


def local_now() -> datetime:
    return datetime.now().astimezone()


class Schedule(Protocol):
    description: str

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment``."""
        ...


@dataclass(frozen=True)
class CronSchedule:
    expression: str

    @property
    def description(self) -> str:
        return f"Cron: '{self.expression}'"

    def next_after(self, moment: datetime) -> datetime:
        return croniter(self.expression, moment, second_at_beginning=True).get_next(datetime)


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta

    @property
    def description(self) -> str:
        return f"Interval: '{self.interval}'"

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse_schedule(expression: str, settings: Mapping[str, str], function: str) -> Schedule:
    """Resolve ``%SETTING%`` and parse; errors name the function and the setting."""
    text = expression.strip()
    reference = _SETTING_REFERENCE.match(text)
    if reference is not None:
        setting = reference.group(1)
        value = settings.get(setting)
        if not value:
            raise HostConfigError(
                f"function '{function}': its schedule '{text}' refers to app setting "
                f"'{setting}', which is not set (local.settings.json Values or environment)"
            )
        text = value.strip()
    span = _TIMESPAN.match(text)
    if span is not None:
        days, hours, minutes, seconds = (int(part or 0) for part in span.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise HostConfigError(f"function '{function}': schedule '{text}' is a zero interval")
        return IntervalSchedule(interval)
    fields = text.split()
    if len(fields) != 6:
        raise HostConfigError(
            f"function '{function}': schedule '{text}' has {len(fields)} fields; NCRONTAB "
            "needs six, seconds first (e.g. '0 */5 * * * *'), or a TimeSpan 'hh:mm:ss'"
        )
    try:
        croniter(text, local_now(), second_at_beginning=True)
    except (CroniterError, ValueError) as error:
        raise HostConfigError(
            f"function '{function}': schedule '{text}' is not valid NCRONTAB: {error}"
        ) from None
    return CronSchedule(text)


@dataclass(frozen=True)
class _Timer:
    spec: FunctionSpec
    schedule: Schedule


class TimerScheduler:
    """One asyncio task per timer function, started and stopped with the host."""

    def __init__(
        self,
        invoker: Invoker,
        timers: Iterable[tuple[FunctionSpec, Schedule]],
        *,
        past_due_after: timedelta = timedelta(seconds=1),
        clock: Callable[[], datetime] = local_now,
    ) -> None:
        self._invoker = invoker
        self._timers = [_Timer(spec, schedule) for spec, schedule in timers]
        self._past_due_after = past_due_after
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for timer in self._timers:
            logger.info(
                "Function '%s' (%s): next run at %s",
                timer.spec.name,
                timer.schedule.description,
                timer.schedule.next_after(self._clock()).isoformat(),
            )
            self._tasks.append(asyncio.create_task(self._loop(timer)))

    async def stop(self) -> None:
        """Cancel the loops; runs already started go on (the invoker drains them)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _loop(self, timer: _Timer) -> None:
        try:
            if getattr(timer.spec.trigger, "run_on_startup", False):
                now = self._clock()
                await self._fire(timer, scheduled=now, fired=now, reason="RunOnStartup")
            due = timer.schedule.next_after(self._clock())
            while True:
                await self._sleep_until(due)
                fired = self._clock()
                following = timer.schedule.next_after(due)
                skipped = 0
                while following <= fired:
                    skipped += 1
                    following = timer.schedule.next_after(following)
                if skipped:
                    logger.warning(
                        "Function '%s': %d occurrence(s) passed while its previous run was "
                        "still going; running once now, the rest are skipped",
                        timer.spec.name,
                        skipped + 1,
                    )
                await self._fire(timer, scheduled=due, fired=fired, reason="Timer fired")
                due = following
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Timer of function '%s' stopped", timer.spec.name)

    async def _fire(
        self, timer: _Timer, *, scheduled: datetime, fired: datetime, reason: str
    ) -> None:
        past_due = fired - scheduled > self._past_due_after
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": scheduled.isoformat(),
                "Next": timer.schedule.next_after(fired).isoformat(),
                "LastUpdated": fired.isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        detail = f", past due: scheduled for {scheduled.isoformat()}" if past_due else ""
        task = self._invoker.start_exclusive(
            timer.spec, request, f"{reason} at {fired.isoformat()}{detail}"
        )
        if task is not None:
            # Shielded: stopping the scheduler must not cancel a run that has started.
            await asyncio.shield(task)

    async def _sleep_until(self, due: datetime) -> None:
        while True:
            delay = (due - self._clock()).total_seconds()
            if delay <= 0:
                return
            await asyncio.sleep(min(delay, _MAX_SLEEP_SECONDS))
