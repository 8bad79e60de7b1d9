"""What tests switch on to make the tenant misbehave: a throttling budget, injected faults
and refused (retired) Graph APIs.

:class:`Misbehaviour` keeps the switches and takes the decisions; the tenant applies them on
its single answering path, so that top-level and batched requests misbehave alike.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any

from tools.graph_tenant.common import is_answerable_status

if TYPE_CHECKING:
    from tools.graph_tenant.areas import Area

logger = logging.getLogger(__name__)


@dataclass
class Fault:
    """A misbehaviour injected for requests whose path fully matches ``path`` (a regex).

    ``skip`` matching requests are answered normally first (to fail page 2 of a listing,
    say); then ``times`` is how many requests it answers before it lapses (None: forever);
    ``hits`` counts the requests it has answered so far.

    ``body``, when given, is the JSON answered with ``status`` (give 200 for a page): a hostile
    Graph's page, ``$batch`` envelope or job. In its strings ``{hit}`` becomes the number of
    this answer (an endless chain of distinct nextLinks) and ``{base}`` the tenant's origin.
    """

    path: str
    _: KW_ONLY
    status: int = 500
    retry_after: float | None = None
    times: int | None = 1
    delay: float = 0.0
    malformed: bool = False
    code: str | None = None
    message: str | None = None
    method: str = "GET"
    skip: int = 0
    body: Any = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    hits: int = 0
    skipped: int = field(default=0, init=False)
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.pattern = re.compile(self.path)
        except (re.error, TypeError) as exc:
            raise ValueError(f"Fault path {self.path!r} is not a valid regex: {exc}") from exc
        if not is_answerable_status(self.status):
            raise ValueError(f"Fault status must be 200 or 400 to 599, not {self.status!r}.")
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 0):
            raise ValueError(f"Fault times must be null or a count, not {self.times!r}.")
        if not (isinstance(self.skip, int) and self.skip >= 0):
            raise ValueError(f"Fault skip must be a count, not {self.skip!r}.")
        for name in ("delay", "retry_after"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"Fault {name} must be a number of seconds, not {value!r}.")
        if not isinstance(self.method, str):
            raise ValueError(f"Fault method must be a string, not {self.method!r}.")
        self.method = self.method.upper()

    def answer_body(self, base_url: str) -> Any:
        """``body`` with its placeholders filled in for this hit."""

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{hit}", str(self.hits)).replace("{base}", base_url)
            if isinstance(value, list):
                return [fill(item) for item in value]
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            return value

        return fill(self.body)

    def applies_to(self, method: str, path: str) -> bool:
        live = self.times is None or self.hits < self.times
        return live and method == self.method and self.pattern.fullmatch(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "status": self.status,
            "retryAfter": self.retry_after,
            "times": self.times,
            "skip": self.skip,
            "delay": self.delay,
            "malformed": self.malformed,
            "code": self.code,
            "message": self.message,
            "method": self.method,
            "body": self.body,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class Refusal:
    """The error a retired Graph API gives to every request under it."""

    status: int
    code: str
    message: str

    def __post_init__(self) -> None:
        if not (is_answerable_status(self.status) and self.status != 200):
            raise ValueError(f"A refusal status must be 400 to 599, not {self.status!r}.")
        if not (isinstance(self.code, str) and isinstance(self.message, str)):
            raise ValueError("A refusal needs a string code and message.")


class RequestBudget:
    """A token bucket: ``rate`` requests per second, bursts of up to ``rate`` (at least 1).

    A throttled request takes no token, as a request Graph turned away costs it nothing.
    ``rate`` 0 throttles everything.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0) if rate > 0 else 0.0
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def take(self) -> float | None:
        """None when the request may pass, else the seconds until a token is due."""
        now = self._clock()
        if self.rate > 0:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self.rate if self.rate > 0 else math.inf


class SlidingWindow:
    """At most ``requests`` in any ``per_seconds``, as Graph limits its identity reports (5 in
    10 seconds for the audit logs); ``requests`` 0 is no limit.

    A refused request takes no place in the window, as one Graph turned away costs it nothing.
    """

    def __init__(
        self, requests: int, per_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not (isinstance(requests, int) and not isinstance(requests, bool) and requests >= 0):
            raise ValueError(f"requests must be a whole number >= 0, not {requests!r}.")
        if not (
            isinstance(per_seconds, int | float)
            and not isinstance(per_seconds, bool)
            and math.isfinite(per_seconds)
            and per_seconds > 0
        ):
            raise ValueError(f"per_seconds must be a number of seconds > 0, not {per_seconds!r}.")
        self.requests = requests
        self.per_seconds = float(per_seconds)
        self._clock = clock
        self._admitted: deque[float] = deque()

    def take(self) -> int | None:
        """None when the request may pass (it takes a place), else the Retry-After to send:
        the whole seconds until the oldest place frees, at least 1."""
        if self.requests == 0:
            return None
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - self.per_seconds:
            self._admitted.popleft()
        if len(self._admitted) < self.requests:
            self._admitted.append(now)
            return None
        return max(1, math.ceil(self._admitted[0] + self.per_seconds - now))


class Misbehaviour:
    """The switches of a tenant's misbehaviour, and the decisions taken from them.

    ``rate_limit`` is the throttling budget in requests per second (None: no limit) and
    ``throttle_retry_after`` the least Retry-After of its 429s; ``areas`` are the Graph APIs
    that :meth:`refuse_source` can retire, by their ``source`` names.
    """

    def __init__(
        self, areas: Sequence[Area], rate_limit: float | None, throttle_retry_after: int
    ) -> None:
        self._budget: RequestBudget | None = None
        self.rate_limit = rate_limit
        self._throttle_retry_after = 1
        self.throttle_retry_after = throttle_retry_after
        self._faults: list[Fault] = []
        self._sources = {area.source: area for area in areas}
        self._refusals: dict[str, Refusal] = {}

    # -- throttling --------------------------------------------------------------------------

    @property
    def rate_limit(self) -> float | None:
        """Requests per second a client may make (bursts of as many); None: unlimited."""
        return self._budget.rate if self._budget is not None else None

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        if value is not None and not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            raise ValueError(f"rate_limit must be null or a number >= 0, not {value!r}.")
        # A new budget starts with a full bucket.
        self._budget = RequestBudget(float(value)) if value is not None else None

    @property
    def throttle_retry_after(self) -> int:
        """The least ``Retry-After`` (whole seconds) of a 429 for an exhausted budget."""
        return self._throttle_retry_after

    @throttle_retry_after.setter
    def throttle_retry_after(self, value: int) -> None:
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f"throttle_retry_after must be a whole number >= 1, not {value!r}.")
        self._throttle_retry_after = value

    def _throttled_for(self) -> int | None:
        """None when the budget admits one more request, else the Retry-After to send.

        It is never shorter than the wait for the next token, so that a client that honours
        it is not throttled again at once.
        """
        if self._budget is None:
            return None
        wait = self._budget.take()
        if wait is None:
            return None
        if not math.isfinite(wait):
            return self._throttle_retry_after
        return max(self._throttle_retry_after, math.ceil(wait))

    # -- faults ------------------------------------------------------------------------------

    def add_fault(
        self,
        path: str,
        *,
        status: int = 500,
        retry_after: float | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        malformed: bool = False,
        code: str | None = None,
        message: str | None = None,
        method: str = "GET",
        skip: int = 0,
        body: Any = None,
    ) -> Fault:
        """Misbehave for matching requests; the earliest live fault wins when several match."""
        fault = Fault(
            path,
            status=status,
            retry_after=retry_after,
            times=times,
            delay=delay,
            malformed=malformed,
            code=code,
            message=message,
            method=method,
            skip=skip,
            body=body,
        )
        self._faults.append(fault)
        return fault

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    def _due_fault(self, method: str, path: str) -> Fault | None:
        """The fault that answers this request, counted as a hit; None to answer normally.

        A fault still skipping lets the request through, and counts it as skipped instead.
        """
        fault = next((f for f in self._faults if f.applies_to(method, path)), None)
        if fault is None:
            return None
        if fault.skipped < fault.skip:
            fault.skipped += 1
            return None
        fault.hits += 1
        return fault

    # -- refusals ----------------------------------------------------------------------------

    @property
    def sources(self) -> list[str]:
        """The names :meth:`refuse_source` takes: one per area."""
        return list(self._sources)

    def refuse_source(
        self,
        name: str,
        status: int = 400,
        code: str = "BadRequest",
        message: str | None = None,
    ) -> None:
        """Answer every request of a Graph API with one error, as Graph does once it retires.

        The default message names the API's segment, e.g. "Resource not found for the segment
        'synchronizationProfiles'." for ``education``.
        """
        area = self._source_area(name)
        if message is None:
            message = f"Resource not found for the segment '{area.segment}'."
        self._refusals[name] = Refusal(status, code, message)
        logger.info("Refusing source %s with %s %s", name, status, code)

    def restore_source(self, name: str) -> None:
        self._source_area(name)
        if self._refusals.pop(name, None) is not None:
            logger.info("Source %s restored", name)

    def _source_area(self, name: str) -> Area:
        try:
            return self._sources[name]
        except KeyError:
            raise ValueError(f"Unknown source {name!r}; known: {sorted(self._sources)}") from None

    def _refusal_for(self, path: str) -> Refusal | None:
        """The refusal of the retired Graph API that ``path`` belongs to, if any."""
        for name, refusal in self._refusals.items():
            if path.startswith(self._sources[name].prefix):
                return refusal
        return None
