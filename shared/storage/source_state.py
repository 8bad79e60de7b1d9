"""What a source keeps between polls besides its items: documents (which service principals
have jobs, how far the provisioning logs were read), in ``{prefix}PollRuns`` beside the poll
records, one per source and name; and its items' logs (``item_logs``)."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.storage.codec import Entity, get_document, put_document
from shared.storage.item_logs import ItemLogTable
from shared.storage.tables import TableService

_PARTITION = "sourceState"


class SourceStateTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("PollRuns")

    async def load(self, source: str, name: str) -> Any:
        """The document saved under ``name``, or None."""
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(_PARTITION, f"{source}.{name}")
            except ResourceNotFoundError:
                return None
        return get_document(entity, "document")

    async def save(self, source: str, name: str, document: Any) -> None:
        entity: Entity = {"PartitionKey": _PARTITION, "RowKey": f"{source}.{name}"}
        put_document(entity, "document", document)
        async with self._tables.call():
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)


class SourceState:
    """One source's documents (``load(name)``, ``save(name, document)``) and its items'
    logs: what its poll is given."""

    def __init__(self, table: SourceStateTable, logs: ItemLogTable, source: str) -> None:
        self._table = table
        self._source = source
        self.logs = logs

    async def load(self, name: str) -> Any:
        return await self._table.load(self._source, name)

    async def save(self, name: str, document: Any) -> None:
        await self._table.save(self._source, name, document)
