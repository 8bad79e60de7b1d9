"""``{prefix}Subscriptions``: the webhook subscriptions made through the API."""

from __future__ import annotations

from contextlib import suppress

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core.subscriptions import Subscription, SubscriptionFilter
from shared.storage.codec import Entity, put_optional
from shared.storage.tables import TableService

_PARTITION = "subscription"


class SubscriptionsTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("Subscriptions")

    async def save(self, subscription: Subscription) -> None:
        entity = {
            "PartitionKey": _PARTITION,
            "RowKey": subscription.id,
            "notificationUrl": subscription.notificationUrl,
            "status": subscription.status,
            "createdDateTime": subscription.createdDateTime,
        }
        if subscription.filter is not None:
            entity["filter"] = subscription.filter.model_dump_json(exclude_none=True)
        if subscription.format != "json":  # json: what every subscription before formats is
            entity["format"] = subscription.format
        if subscription.groupIncidents:
            entity["groupIncidents"] = True
        put_optional(entity, "disabledReason", subscription.disabledReason)
        put_optional(entity, "tenantId", subscription.tenantId)
        async with self._tables.call():
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def get(self, subscription_id: str) -> Subscription | None:
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(_PARTITION, subscription_id)
            except ResourceNotFoundError:
                return None
        return _subscription(entity)

    async def read_all(self) -> list[Subscription]:
        async with self._tables.call():
            entities = self._table.query_entities(
                "PartitionKey eq @kind", parameters={"kind": _PARTITION}
            )
            return [_subscription(entity) async for entity in entities]

    async def purge_tenant(self, tenant_id: str) -> list[str]:
        """Delete every subscription of one tenant; return their ids."""
        async with self._tables.call():
            found = self._table.query_entities(
                "PartitionKey eq @kind and tenantId eq @t",
                parameters={"kind": _PARTITION, "t": tenant_id},
                select=["RowKey"],
            )
            ids = [entity["RowKey"] async for entity in found]
            for subscription_id in ids:
                with suppress(ResourceNotFoundError):
                    await self._table.delete_entity(_PARTITION, subscription_id)
        return ids

    async def delete(self, subscription_id: str) -> bool:
        """Delete a subscription; False when there was none."""
        async with self._tables.call():
            try:
                await self._table.get_entity(_PARTITION, subscription_id)
            except ResourceNotFoundError:
                return False
            with suppress(ResourceNotFoundError):
                await self._table.delete_entity(_PARTITION, subscription_id)
        return True


def _subscription(entity: Entity) -> Subscription:
    raw_filter = entity.get("filter")
    return Subscription(
        id=entity["RowKey"],
        notificationUrl=entity["notificationUrl"],
        filter=SubscriptionFilter.model_validate_json(raw_filter) if raw_filter else None,
        status=entity.get("status", "active"),
        createdDateTime=entity.get("createdDateTime", ""),
        format=entity.get("format") or "json",
        groupIncidents=bool(entity.get("groupIncidents", False)),
        disabledReason=entity.get("disabledReason"),
        tenantId=entity.get("tenantId") or None,
    )
