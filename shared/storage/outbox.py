"""``{prefix}Outbox``: change events waiting for delivery.

PartitionKey is the delivery target (a subscription's id, or ``url-...`` for a
NOTIFY_WEBHOOK_URLS entry); RowKey the time and the event id, so a target's events read
oldest first. A delivered event stays as a marker until it is pruned, so an event recorded
again after a failure part-way is never queued (or sent) twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from shared.core.changes import ChangeEvent
from shared.core.incidents import IncidentEvent, parse_outbox_event
from shared.core.time import timestamp_ns
from shared.storage.codec import Entity, get_text, put_text
from shared.storage.tables import TableOperation, TableService


class OutboxTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("Outbox")

    async def add(self, target: str, events: Sequence[ChangeEvent | IncidentEvent]) -> None:
        """Queue events for one delivery target. An event already queued (the same eventId,
        queued again after a failure part-way) is left as it is, delivered or not, so an
        acknowledged event is never sent twice."""
        operations: list[TableOperation] = []
        for event in events:
            entity: Entity = {
                "PartitionKey": target,
                "RowKey": f"{timestamp_ns(event.changedDateTime):020d}-{event.eventId}",
                "attempts": 0,
                "delivered": False,
                "changedDateTime": event.changedDateTime,
                # Whose change it is: a tenant's events are purged with it.
                "tenantId": event.tenantId or "",
            }
            put_text(entity, "event", event.model_dump_json())
            operations.append(("create", entity, {}))
        try:
            await self._tables.submit_all(self._table, operations)
        except TableTransactionError:
            # Some were there already (a batch is all or nothing): one by one, keeping those.
            for _kind, entity, _options in operations:
                async with self._tables.call():
                    with suppress(ResourceExistsError):
                        await self._table.create_entity(entity)

    async def targets(self) -> list[str]:
        """The delivery targets that have events waiting."""
        async with self._tables.call():
            entities = self._table.query_entities("delivered eq false", select=["PartitionKey"])
            return list(dict.fromkeys([entity["PartitionKey"] async for entity in entities]))

    async def read(
        self, target: str, limit: int
    ) -> list[tuple[ChangeEvent | IncidentEvent, Entity]]:
        """The oldest waiting events of a target, with their entities (to settle)."""
        async with self._tables.call():
            pages = self._table.query_entities(
                "PartitionKey eq @target and delivered eq false",
                parameters={"target": target},
                results_per_page=limit,
            ).by_page()
            entities: list[Entity] = []
            async for page in pages:
                entities += [entity async for entity in page]
                if len(entities) >= limit:
                    break
        return [
            (parse_outbox_event(get_text(entity, "event") or "{}"), entity)
            for entity in entities[:limit]
        ]

    async def settle(self, entity: Entity, *, delivered: bool) -> None:
        """Mark an event delivered (or given up on), keeping it as a marker until the daily
        prune so it is never queued again; else count the failed attempt."""
        keys = {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]}
        if delivered:
            columns: dict[str, Any] = {"delivered": True}
        else:
            columns = {"attempts": int(entity.get("attempts", 0)) + 1}
        async with self._tables.call():
            with suppress(ResourceNotFoundError):
                await self._table.update_entity(keys | columns, mode=UpdateMode.MERGE)

    async def prune(self, before: str) -> int:
        """Delete delivered events (and markers) older than ``before``; return how many."""
        query = "delivered eq true and changedDateTime lt @before"
        return await self._tables.delete_where(self._table, query, {"before": before})

    async def purge_tenant(self, tenant_id: str) -> int:
        """Delete every event of one tenant's changes, for any target; return how many."""
        return await self._tables.delete_where(self._table, "tenantId eq @t", {"t": tenant_id})

    async def clear(self, target: str) -> None:
        """Drop every event waiting for a target (its subscription is gone or disabled)."""
        await self._tables.delete_where(self._table, "PartitionKey eq @target", {"target": target})
