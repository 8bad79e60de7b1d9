"""What a source keeps between polls besides its items: documents (which service principals
have jobs, how far the provisioning logs were read), in ``{prefix}PollRuns`` beside the poll
records, one per source and name; claims (an action on an item, at most one per cooldown),
in rows of their own, so that no write of the item (a poll's) touches them; and its items'
logs (``item_logs``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core.errors import ContentionError
from shared.core.tenancy import TenantScope
from shared.core.time import parse_timestamp
from shared.storage.codec import Entity, get_document, put_document
from shared.storage.item_logs import ItemLogTable
from shared.storage.scoping import delete_tenant_rows
from shared.storage.tables import TableService, create_or_replace

_PARTITION = "sourceState"
_CLAIMS = "claims"


class SourceStateTable:
    """One tenant's documents and claims (``scope``: RowKeys ``{tenantId}|{source}.{name}``
    for another tenant than the home)."""

    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._table = tables.table("PollRuns")
        self._scope = scope

    async def purge(self) -> int:
        """Delete every row of this tenant's in ``{prefix}PollRuns`` (poll records,
        documents, claims; not the home's); return how many."""
        return await delete_tenant_rows(self._tables, self._table, self._scope, "RowKey")

    async def load(self, source: str, name: str) -> Any:
        """The document saved under ``name``, or None."""
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(
                    _PARTITION, self._scope.key(f"{source}.{name}")
                )
            except ResourceNotFoundError:
                return None
        return get_document(entity, "document")

    async def save(self, source: str, name: str, document: Any) -> None:
        entity: Entity = {"PartitionKey": _PARTITION, "RowKey": self._scope.key(f"{source}.{name}")}
        put_document(entity, "document", document)
        async with self._tables.call():
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def claim(self, source: str, key: str, now: str, every: timedelta) -> float:
        """Claim ``key`` (a valid Table key) at ``now`` unless it was claimed less than
        ``every`` before; return 0, or the seconds left. Two callers cannot both claim it
        (conditional writes)."""
        row = {"PartitionKey": _CLAIMS, "RowKey": self._scope.key(f"{source}.{key}"), "at": now}
        for _attempt in range(5):
            async with self._tables.call():
                try:
                    current = await self._table.get_entity(_CLAIMS, row["RowKey"])
                except ResourceNotFoundError:
                    current = None
                if current is not None:
                    left = parse_timestamp(current["at"]) + every - parse_timestamp(now)
                    if left.total_seconds() > 0:
                        return left.total_seconds()
                try:
                    await create_or_replace(self._table, row, current)
                    return 0.0
                except (ResourceExistsError, ResourceModifiedError):
                    continue  # another caller got in first: read theirs
        raise ContentionError(f"'{key}' kept being claimed by others; try again.")

    async def release(self, source: str, key: str, at: str) -> None:
        """Give a claim back (what it was claimed for did not happen), if it is still ours."""
        async with self._tables.call():
            try:
                current = await self._table.get_entity(_CLAIMS, self._scope.key(f"{source}.{key}"))
            except ResourceNotFoundError:
                return
            if current.get("at") == at:
                await self._table.delete_entity(
                    _CLAIMS, current["RowKey"], etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )  # fmt: skip


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

    async def claim(self, key: str, now: str, every: timedelta) -> float:
        return await self._table.claim(self._source, key, now, every)

    async def release(self, key: str, at: str) -> None:
        await self._table.release(self._source, key, at)
