"""``{prefix}Rounds``: the rounds the timer planned, what came of each tenant's poll in them,
and the claims that keep one tenant's poll to one instance at a time.

Rows:
- the plan of a round: PartitionKey ``rounds``, RowKey the round's id (when it was planned,
  a Graph timestamp: they sort in time), with how many tenants it holds;
- each tenant's outcome in a round: PartitionKey ``round|{roundId}``, RowKey the tenant id
  (a message delivered again overwrites it), and a duplicate dropped: RowKey
  ``duplicate|{tenantId}|{messageId}|{dequeueCount}`` (written once: insert-only rows, so
  workers never contend on one row);
- a tenant's claim: PartitionKey ``claims``, RowKey the tenant id, with its holder (the queue
  message's id), the delivery it was taken on and when it ends (ETag-conditional writes: two
  instances cannot both take it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core.errors import ContentionError
from shared.core.time import graph_timestamp, parse_timestamp
from shared.storage.tables import TableService, create_or_replace

_ROUNDS = "rounds"
_CLAIMS = "claims"
_DUPLICATE = "duplicate"


@dataclass(frozen=True)
class PollClaim:
    """Who polls a tenant now: the message that took the claim, on which delivery, and until
    when (a claim whose holder died ends by itself)."""

    holder: str
    delivery: int
    until: str


@dataclass
class RoundSummary:
    """What came of one round: tenants planned, outcomes by kind, duplicates dropped."""

    round_id: str
    planned: int
    outcomes: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0

    @property
    def done(self) -> int:
        """Tenants whose poll ended (polled, or failed for good) in this round."""
        return sum(n for outcome, n in self.outcomes.items() if outcome != "requeued")


class RoundsTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("Rounds")

    async def plan(self, round_id: str, tenants: int) -> None:
        row = {"PartitionKey": _ROUNDS, "RowKey": round_id, "tenants": tenants}
        async with self._tables.call():
            await self._table.upsert_entity(row, mode=UpdateMode.REPLACE)

    async def record(self, round_id: str, tenant_id: str, outcome: str, **details: Any) -> None:
        """What came of a tenant's poll in a round (``polled``, ``requeued``, ``failed``)."""
        row = {"PartitionKey": f"round|{round_id}", "RowKey": tenant_id, "outcome": outcome}
        row |= {name: value for name, value in details.items() if value is not None}
        async with self._tables.call():
            await self._table.upsert_entity(row, mode=UpdateMode.REPLACE)

    async def record_duplicate(
        self, round_id: str, tenant_id: str, message_id: str, delivery: int
    ) -> None:
        key = f"{_DUPLICATE}|{tenant_id}|{message_id}|{delivery}"
        row = {"PartitionKey": f"round|{round_id}", "RowKey": key, "outcome": _DUPLICATE}
        async with self._tables.call():
            await self._table.upsert_entity(row, mode=UpdateMode.REPLACE)

    async def latest(self) -> str | None:
        """The id of the round planned last (None before the first)."""
        async with self._tables.call():
            found = self._table.query_entities(
                "PartitionKey eq @p", parameters={"p": _ROUNDS}, select=["RowKey"]
            )
            ids = [entity["RowKey"] async for entity in found]
        return max(ids) if ids else None

    async def summary(self, round_id: str) -> RoundSummary | None:
        async with self._tables.call():
            try:
                plan = await self._table.get_entity(_ROUNDS, round_id)
            except ResourceNotFoundError:
                return None
            found = self._table.query_entities(
                "PartitionKey eq @p", parameters={"p": f"round|{round_id}"}, select=["outcome"]
            )
            outcomes = Counter([str(entity.get("outcome")) async for entity in found])
        duplicates = outcomes.pop(_DUPLICATE, 0)
        return RoundSummary(round_id, int(plan.get("tenants") or 0), dict(outcomes), duplicates)

    async def forget_before(self, moment: str) -> int:
        """Delete the rounds planned before ``moment`` and what came of them; how many rows."""
        async with self._tables.call():
            found = self._table.query_entities(
                "PartitionKey eq @p and RowKey lt @m",
                parameters={"p": _ROUNDS, "m": moment},
                select=["RowKey"],
            )
            old = [entity["RowKey"] async for entity in found]
        removed = 0
        for round_id in old:
            removed += await self._tables.delete_where(
                self._table, "PartitionKey eq @p", {"p": f"round|{round_id}"}
            )
            removed += await self._tables.delete_where(
                self._table, "PartitionKey eq @p and RowKey eq @r", {"p": _ROUNDS, "r": round_id}
            )
        return removed

    async def claim(
        self, tenant_id: str, holder: str, delivery: int, now: str, seconds: float
    ) -> PollClaim | None:
        """Take the tenant's claim for ``seconds`` unless another holds it; None when one
        does. A claim that has ended is taken over; so is one the same message holds from an
        earlier delivery: the queue delivers a message again only once its lease ran out, so
        that delivery's poll has died (its instance with it)."""
        until = graph_timestamp(parse_timestamp(now) + timedelta(seconds=seconds))
        row = {"PartitionKey": _CLAIMS, "RowKey": tenant_id, "holder": holder,
               "delivery": delivery, "until": until}  # fmt: skip
        for _attempt in range(5):
            async with self._tables.call():
                try:
                    current = await self._table.get_entity(_CLAIMS, tenant_id)
                except ResourceNotFoundError:
                    current = None
                if current is not None and not _claimable(current, holder, delivery, now):
                    return None
                try:
                    await create_or_replace(self._table, row, current)
                    return PollClaim(holder, delivery, until)
                except (ResourceExistsError, ResourceModifiedError):
                    continue  # another instance got in first: read theirs
        raise ContentionError(f"The poll of '{tenant_id}' kept being claimed by others.")

    async def release(self, tenant_id: str, claim: PollClaim) -> None:
        """Give the claim back, if it is still this one."""
        async with self._tables.call():
            try:
                current = await self._table.get_entity(_CLAIMS, tenant_id)
            except ResourceNotFoundError:
                return
            if (current.get("holder"), current.get("delivery")) != (claim.holder, claim.delivery):
                return
            try:
                await self._table.delete_entity(
                    _CLAIMS, tenant_id, etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )  # fmt: skip
            except (ResourceModifiedError, ResourceNotFoundError):
                return


def _claimable(current: dict[str, Any], holder: str, delivery: int, now: str) -> bool:
    if str(current.get("until") or "") <= now:
        return True
    return current.get("holder") == holder and int(current.get("delivery") or 0) < delivery
