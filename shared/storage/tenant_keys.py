"""``{prefix}TenantKeys``: the keys that open one tenant's routes, for a customer's own flow.
PartitionKey the tenant's id, RowKey the key's id; a key is kept only as its SHA-256 (keys
are 256 random bits: a plain digest is enough to check one and useless to recover it)."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.storage.tables import TableService


class TenantKeysTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("TenantKeys")

    async def add(self, tenant_id: str, key_id: str, columns: dict[str, Any]) -> None:
        async with self._tables.call():
            await self._table.create_entity(
                {"PartitionKey": tenant_id, "RowKey": key_id, **columns}
            )

    async def get(self, tenant_id: str, key_id: str) -> dict[str, Any] | None:
        async with self._tables.call():
            try:
                return dict(await self._table.get_entity(tenant_id, key_id))
            except ResourceNotFoundError:
                return None

    async def of_tenant(self, tenant_id: str) -> list[dict[str, Any]]:
        async with self._tables.call():
            found = self._table.query_entities("PartitionKey eq @t", parameters={"t": tenant_id})
            return [dict(entity) async for entity in found]

    async def delete(self, tenant_id: str, key_id: str) -> bool:
        async with self._tables.call():
            try:
                await self._table.get_entity(tenant_id, key_id)
            except ResourceNotFoundError:
                return False
            await self._table.delete_entity(tenant_id, key_id)
        return True

    async def purge(self, tenant_id: str) -> int:
        return await self._tables.delete_where(self._table, "PartitionKey eq @t", {"t": tenant_id})
