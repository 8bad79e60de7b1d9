"""``{prefix}Tenants``: the tenant registry, one row per tenant (RowKey its id), its document
(what ``shared.tenants`` keeps of it) as JSON. The home tenant has a row only once someone
changed it; until then it is what the app settings say."""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core.errors import ConflictError, NotFoundError, VersionConflictError
from shared.storage.codec import etag_of, get_document, put_document
from shared.storage.tables import TableService

_PARTITION = "tenant"


class TenantsTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("Tenants")

    async def read_all(self) -> list[tuple[dict[str, Any], str]]:
        """Every tenant's document and its ETag, in id order."""
        async with self._tables.call():
            found = self._table.query_entities("PartitionKey eq @p", parameters={"p": _PARTITION})
            return [(get_document(e, "document") or {}, etag_of(e) or "") async for e in found]

    async def get(self, tenant_id: str) -> tuple[dict[str, Any], str] | None:
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(_PARTITION, tenant_id)
            except ResourceNotFoundError:
                return None
        return get_document(entity, "document") or {}, etag_of(entity) or ""

    async def create(self, tenant_id: str, document: dict[str, Any]) -> str:
        """Add a tenant; ConflictError when it is registered already. Returns its ETag."""
        entity = {"PartitionKey": _PARTITION, "RowKey": tenant_id}
        put_document(entity, "document", document)
        async with self._tables.call():
            try:
                result = await self._table.create_entity(entity)
            except ResourceExistsError:
                raise ConflictError(f"The tenant '{tenant_id}' is registered already.") from None
        return str(result.get("etag", ""))

    async def save(self, tenant_id: str, document: dict[str, Any], *, etag: str | None) -> str:
        """Write a tenant's document: over the version ``etag`` (VersionConflictError when it
        changed, NotFoundError when it went), or as it is with None. Returns the new ETag."""
        entity = {"PartitionKey": _PARTITION, "RowKey": tenant_id}
        put_document(entity, "document", document)
        async with self._tables.call():
            try:
                if etag is None:
                    result = await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
                else:
                    result = await self._table.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )  # fmt: skip
            except ResourceModifiedError:
                raise VersionConflictError(f"The tenant '{tenant_id}' changed meanwhile.") from None
            except ResourceNotFoundError:
                raise NotFoundError(f"The tenant '{tenant_id}' is not registered.") from None
        return str(result.get("etag", ""))

    async def delete(self, tenant_id: str) -> bool:
        """Remove a tenant's row; False when there was none."""
        async with self._tables.call():
            try:
                await self._table.delete_entity(
                    _PARTITION, tenant_id, match_condition=MatchConditions.Unconditionally
                )
            except ResourceNotFoundError:
                return False
        return True
