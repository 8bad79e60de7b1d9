"""``{prefix}ReportBudget``: Graph's budget for identity reports (the provisioning logs among
them), shared by every instance of the app. Graph allows an app 5 report requests per 10 s
in each tenant, and 122 per 10 s across all tenants: each instance asks this table before a
report request, so that the budget holds however many instances poll at once.

Rows, all in one partition (``budget``), each with the grant times of the last window (a
JSON list of Unix times, the newest ``limit`` of them: at most 122 entries):
- the app's: RowKey ``app``;
- each tenant's: RowKey ``tenant|{tenantId}``.

A grant is written to the app row and to its tenant's row in one batch transaction, both
writes ETag-conditional (a row not there yet: created in the same transaction). The two rows
share a partition so that they change together or not at all: no grant is ever taken in one
row and not the other, so nothing has to be reserved first and given back after, and no
instance can crash between the two and leave a reservation behind. Another instance's grant
in between fails the transaction (412, or 409 for a row it created): this one reads the rows
again and tries again after a short jittered pause. The partition takes far more than the
app's 12.2 grants per second (Table Storage targets 2,000 entities per second).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core.errors import StorageUnavailableError
from shared.storage.codec import Entity
from shared.storage.tables import TableOperation, TableService

logger = logging.getLogger(__name__)

_PARTITION = "budget"
# Graph's budget for identity reports: per app and tenant, and per app across all tenants.
PER_TENANT = 5
PER_APP = 122
WINDOW_SECONDS = 10.0
# Added to the window: the instances' clocks differ by a little, and a grant is stamped when
# it is decided, a round trip before its request leaves.
SAFETY_SECONDS = 0.2
# Pause after a lost race: another instance took a grant between our read and our write.
_CONFLICT_PAUSE_SECONDS = 0.05
_MAX_CONFLICT_PAUSE_SECONDS = 0.5
# After an outage: the fallback paces alone this long before the table is asked again.
RETRY_TABLE_SECONDS = 30.0


class _Pacer(Protocol):
    """What the fallback is: anything that holds a request until it may start (the
    GraphClient's RequestPacer; storage does not import Graph's layer)."""

    def wait(self) -> Awaitable[None]: ...


def admit(
    grants: Sequence[float], now: float, limit: int, span: float
) -> tuple[list[float], float]:
    """The grants that still count at ``now`` (less than ``span`` old, in order), and how
    long until another may start: 0 when fewer than ``limit`` count, else the time until the
    oldest grant that must leave (so that ``limit - 1`` are left) does. A grant stamped by a
    clock ahead of ours counts too, until it is ``span`` old."""
    live = sorted(grant for grant in grants if grant > now - span)
    if len(live) < limit:
        return live, 0.0
    return live, max(live[len(live) - limit] + span - now, 0.0)


class ReportBudgetTable:
    """The report budget's rows; ``pacer(tenant_id)`` gives a tenant's pacer. The pacers made
    here take turns at the table (one lock per process): they would only race each other."""

    def __init__(self, tables: TableService, clock: Callable[[], float] = time.time) -> None:
        self._tables = tables
        self._table = tables.table("ReportBudget")
        self._clock = clock
        self._turn: asyncio.Lock | None = None

    def pacer(
        self,
        tenant_id: str,
        fallback: _Pacer,
        *,
        per_tenant: int = PER_TENANT,
        per_app: int = PER_APP,
        window: float = WINDOW_SECONDS,
        safety: float = SAFETY_SECONDS,
    ) -> SharedReportPacer:
        """The pacer of ``tenant_id``'s report requests; ``fallback`` paces them (in this
        process only) while the table cannot be reached."""
        return SharedReportPacer(
            self, tenant_id, fallback,
            per_tenant=per_tenant, per_app=per_app, window=window + safety,
        )  # fmt: skip

    async def try_grant(
        self, tenant_id: str, per_tenant: int, per_app: int, window: float
    ) -> float | None:
        """Take a grant for ``tenant_id`` if both windows allow one now: 0.0 when taken, the
        seconds until one may be free when a window is full, None when another instance
        changed the rows first (read again). StorageUnavailableError on an outage."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn, self._tables.call():
            (app_grants, app), (tenant_grants, tenant) = await asyncio.gather(
                self._read("app"), self._read("tenant", tenant_id)
            )
            now = self._clock()
            app_kept, app_wait = admit(app_grants, now, per_app, window)
            tenant_kept, tenant_wait = admit(tenant_grants, now, per_tenant, window)
            if (wait := max(app_wait, tenant_wait)) > 0:
                return wait
            operations = [
                _write(app, _row_key("app"), _with(app_kept, now, per_app)),
                _write(tenant, _row_key("tenant", tenant_id), _with(tenant_kept, now, per_tenant)),
            ]
            try:
                await self._table.submit_transaction(operations)
            except HttpResponseError as error:
                if error.status_code in (409, 412):  # another instance wrote first
                    return None
                raise
            return 0.0

    async def _read(self, kind: str, tenant_id: str = "") -> tuple[list[float], Entity | None]:
        """A row's grant times and the row (None: not made yet); ``kind`` app or tenant."""
        try:
            entity = await self._table.get_entity(_PARTITION, _row_key(kind, tenant_id))
        except ResourceNotFoundError:
            return [], None
        return _grants(entity), entity


class SharedReportPacer:
    """Holds a tenant's report requests until Graph's budget allows them, across every
    instance: at most ``per_tenant`` start for the tenant, and ``per_app`` for the whole app,
    in any ``window`` seconds (the safety margin included). When a window is full it sleeps
    until the grant that holds it leaves the window, then asks again.

    While the table cannot be reached it waits on ``fallback`` (this process's own pacer)
    instead, says so once per outage, and asks the table again only after
    ``RETRY_TABLE_SECONDS`` (an unreachable account costs the SDK's retries each time): the
    pacer never fails a poll."""

    def __init__(
        self,
        budget: ReportBudgetTable,
        tenant_id: str,
        fallback: _Pacer,
        *,
        per_tenant: int,
        per_app: int,
        window: float,
    ) -> None:
        self._budget = budget
        self.tenant_id = tenant_id
        self._fallback = fallback
        self._per_tenant = per_tenant
        self._per_app = per_app
        self._window = window
        self._conflicts = 0
        self._outage_until: float | None = None  # monotonic; None: the table answers

    async def wait(self) -> None:
        if self._outage_until is not None and time.monotonic() < self._outage_until:
            await self._fallback.wait()
            return
        while True:
            try:
                outcome = await self._budget.try_grant(
                    self.tenant_id, self._per_tenant, self._per_app, self._window
                )
            except (StorageUnavailableError, HttpResponseError) as error:
                if self._outage_until is None:
                    logger.warning(
                        "The shared report budget is unavailable (%s): tenant %s's report "
                        "requests are paced by this instance alone until it answers again.",
                        error, self.tenant_id,
                    )  # fmt: skip
                self._outage_until = time.monotonic() + RETRY_TABLE_SECONDS
                await self._fallback.wait()
                return
            if self._outage_until is not None:
                logger.info("The shared report budget answers again (tenant %s).", self.tenant_id)
                self._outage_until = None
            if outcome == 0.0:
                self._conflicts = 0
                return
            if outcome is None:  # another instance took a grant first: read again soon
                self._conflicts += 1
                pause = min(_CONFLICT_PAUSE_SECONDS * self._conflicts, _MAX_CONFLICT_PAUSE_SECONDS)
                await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 (jitter, not a secret)
                continue
            self._conflicts = 0
            # A little jitter: instances woken by the same grant leaving do not all ask at once.
            await asyncio.sleep(outcome + random.uniform(0, 0.02))  # noqa: S311


def _with(kept: list[float], now: float, limit: int) -> list[float]:
    """A row's grants after one more at ``now``: the newest ``limit - 1`` kept and this one
    (the older can hold no one back)."""
    return [*kept[max(len(kept) - limit + 1, 0) :], now]


def _row_key(kind: str, tenant_id: str = "") -> str:
    return "app" if kind == "app" else f"tenant|{tenant_id}"


def _grants(entity: Entity) -> list[float]:
    try:
        grants: Any = json.loads(entity.get("grants") or "[]")
    except ValueError:
        return []  # not ours to read: written over with the next grant
    if not isinstance(grants, list):
        return []
    return [float(grant) for grant in grants if isinstance(grant, int | float)]


def _write(current: Entity | None, row_key: str, grants: list[float]) -> TableOperation:
    entity: Entity = {
        "PartitionKey": _PARTITION,
        "RowKey": row_key,
        # In milliseconds, rounded up: a grant never leaves the window early.
        "grants": json.dumps([math.ceil(grant * 1000) / 1000 for grant in grants]),
    }
    if current is None:
        return ("create", entity, {})
    return (
        "update", entity,
        {"mode": UpdateMode.REPLACE, "etag": current.metadata["etag"],
         "match_condition": MatchConditions.IfNotModified},
    )  # fmt: skip
