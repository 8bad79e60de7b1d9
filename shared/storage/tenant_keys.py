"""``{prefix}TenantKeys``: the keys that open one tenant's routes, for a customer's own flow.
PartitionKey the tenant's id, RowKey the key's id; a key is kept only as its SHA-256 (keys
are 256 random bits: a plain digest is enough to check one and useless to recover it)."""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError

from shared.storage.codec import Entity
from shared.storage.tables import TableService


@dataclass(frozen=True)
class KeptKey:
    """A tenant key as kept: never the key, only its digest."""

    id: str
    name: str
    created_date_time: str
    sha256: str

    @classmethod
    def from_entity(cls, entity: Entity) -> KeptKey:
        return cls(
            id=entity["RowKey"],
            name=entity.get("name") or "",
            created_date_time=entity.get("createdDateTime") or "",
            sha256=entity.get("sha256") or "",
        )


class TenantKeysTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("TenantKeys")

    async def add(self, tenant_id: str, key: KeptKey) -> None:
        entity = {
            "PartitionKey": tenant_id,
            "RowKey": key.id,
            "name": key.name,
            "createdDateTime": key.created_date_time,
            "sha256": key.sha256,
        }
        async with self._tables.call():
            await self._table.create_entity(entity)

    async def get(self, tenant_id: str, key_id: str) -> KeptKey | None:
        async with self._tables.call():
            try:
                return KeptKey.from_entity(await self._table.get_entity(tenant_id, key_id))
            except ResourceNotFoundError:
                return None

    async def of_tenant(self, tenant_id: str) -> list[KeptKey]:
        async with self._tables.call():
            found = self._table.query_entities("PartitionKey eq @t", parameters={"t": tenant_id})
            return [KeptKey.from_entity(entity) async for entity in found]

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
