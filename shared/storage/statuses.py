"""``{prefix}Statuses``: the cache itself, one entity per monitored item.

PartitionKey is the source's name (another tenant's than the home's: ``{tenantId}|{source}``,
``storage.scoping``), RowKey the item's id. Items come and go as ``items.StoredItem`` and
``items.CacheWrite``: which columns an item has is ``storage.items``' business.

The changes a write makes travel in the same write, on the item itself (``pendingChanges``):
whatever happens next, a change is never in the cache without being on its way to the
history and the outbox (``shared.storage.recording`` moves it there, idempotently, and clears
it). An item a complete listing no longer has is first marked ``removed`` (with its removal
change pending), then deleted once that change is recorded; reads for the API skip it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError

from shared.core.errors import NotFoundError, StorageUnavailableError, VersionConflictError
from shared.core.tenancy import TenantScope
from shared.storage.codec import etag_of
from shared.storage.items import (
    SUMMARY_COLUMNS,
    CacheWrite,
    StoredItem,
    clear_write,
    delete_write,
)
from shared.storage.keys import prefix_range
from shared.storage.scoping import delete_tenant_rows, is_ours, scoped, unscoped
from shared.storage.tables import (
    TRANSACTIONS_AT_ONCE,
    Continuation,
    TableOperation,
    TableService,
    any_of,
    batches_of,
)

logger = logging.getLogger(__name__)


@dataclass
class WriteOutcome:
    """What a batch of cache writes did."""

    written: int = 0
    removed: int = 0
    # Writes that did not land (storage unavailable, refused), by item id, with a code.
    failed: dict[str, str] = field(default_factory=dict)
    # The ETag each landed write (but a delete) left, by item id.
    etags: dict[str, str] = field(default_factory=dict)
    # Items another writer changed since they were read: to read again and decide anew.
    conflicts: set[str] = field(default_factory=set)

    def add(self, other: WriteOutcome) -> None:
        self.written += other.written
        self.removed += other.removed
        self.failed |= other.failed
        self.etags |= other.etags
        self.conflicts |= other.conflicts


class StatusesTable:
    """One tenant's items (``scope``): their keys scoped on the way in, plain on the way out."""

    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._table = tables.table("Statuses")
        self._scope = scope

    async def get(self, source: str, item_id: str) -> StoredItem | None:
        """The cached item (None when there is none, or it is on its way out)."""
        item = await self.read(source, item_id)
        return None if item is None or item.removed else item

    async def read(self, source: str, item_id: str) -> StoredItem | None:
        """The item as it is, even one marked removed: what a writer decides from."""
        async with self._tables.call():
            try:
                found = await self._table.get_entity(self._scope.key(source), item_id)
            except ResourceNotFoundError:
                return None
        return StoredItem(unscoped(self._scope, found))

    async def page(
        self,
        *,
        sources: list[str],
        healths: list[str] | None = None,
        statuses: list[str] | None = None,
        top: int,
        continuation: Continuation | None,
    ) -> tuple[list[StoredItem], Continuation | None]:
        """One page of items of these sources (by source, then id), optionally only those of
        these healths or raw statuses. An item on its way out is left out (the page is then
        one shorter)."""
        parameters: dict[str, Any] = {}
        query = any_of("PartitionKey", "p", self._partitions(sources), parameters)
        if healths:
            query += " and " + any_of("health", "h", healths, parameters)
        if statuses:
            query += " and " + any_of("status", "s", statuses, parameters)
        entities, continuation = await self._tables.query_page(
            self._table, query, parameters, top, continuation
        )
        items = [StoredItem(unscoped(self._scope, entity)) for entity in entities]
        return [item for item in items if not item.removed], continuation

    async def list_items(self, source: str, *, id_prefix: str = "") -> list[StoredItem]:
        """Every cached item of a source, in id order (not those on their way out);
        ``id_prefix`` narrows it (a service principal's jobs share the prefix ``{spId}:``)."""
        items = await self._query(source, id_prefix)
        return [item for item in items if not item.removed]

    async def summaries(
        self, sources: list[str], *, parts: tuple[str, ...] = (), page_size: int | None = None
    ) -> list[StoredItem]:
        """Every cached item of these sources with only its summary (and the texts or
        documents its source names in ``parts``): what a page of every item reads, without
        the rest (not those on their way out). ``page_size`` asks for smaller pages: each is
        parsed at once, holding the loop."""
        parameters: dict[str, Any] = {}
        query = any_of("PartitionKey", "p", self._partitions(sources), parameters)
        select = ["PartitionKey", "RowKey", *SUMMARY_COLUMNS, *parts]
        async with self._tables.call():
            found = self._table.query_entities(
                query, parameters=parameters, select=select, results_per_page=page_size
            )
            items = [StoredItem(unscoped(self._scope, entity)) async for entity in found]
        return [item for item in items if not item.removed]

    async def written_since(self, since: datetime) -> list[tuple[str, str, str, datetime]]:
        """(source, id, ETag, Timestamp) of every item of this tenant written at or after
        ``since`` (storage's Timestamp), those marked removed included: what changed, without
        reading it."""
        keys = ["PartitionKey", "RowKey", "Timestamp"]
        async with self._tables.call():
            found = self._table.query_entities(
                "Timestamp ge @since", parameters={"since": since}, select=keys
            )
            written = [e async for e in found if is_ours(self._scope, e["PartitionKey"])]
        return [
            (source, e["RowKey"], etag_of(e) or "", e.metadata["timestamp"])
            for e in written
            if (source := self._scope.name_of(e["PartitionKey"])) is not None
        ]

    async def read_source(self, source: str) -> dict[str, StoredItem]:
        """Every item of a source by id, those marked removed included: what a poll compares
        Graph against."""
        return {item.id: item for item in await self._query(source, "")}

    async def write_one(self, write: CacheWrite) -> str:
        """Write one item (a replace or a merge) if it is still at the write's ETag; return
        the new ETag.

        VersionConflictError when another writer got there first, NotFoundError when the
        item was removed meanwhile.
        """
        _kind, entity, options = self._scoped(write.table_operation())
        async with self._tables.call():
            try:
                result = await self._table.update_entity(entity, **options)
            except ResourceModifiedError:
                raise VersionConflictError(f"'{write.item_id}' changed meanwhile.") from None
            except ResourceNotFoundError:
                raise NotFoundError(f"'{write.item_id}' is no longer cached.") from None
        return result["etag"]

    async def write(self, writes: Iterable[CacheWrite]) -> WriteOutcome:
        """Apply writes as batch transactions of up to 100 operations per partition, each
        conditional on the ETag it was decided from. A write another writer got in first on
        is a conflict (the batch it was in is then written one by one); a storage outage
        fails only the batch it hits."""
        outcome = WriteOutcome()
        operations = [self._scoped(write.table_operation()) for write in writes]
        limit = asyncio.Semaphore(TRANSACTIONS_AT_ONCE)

        async def submit(batch: list[TableOperation]) -> None:
            await self._submit(batch, outcome, limit)

        await asyncio.gather(*(submit(batch) for batch in batches_of(operations)))
        return outcome

    async def clear_pending(self, source: str, etags: Mapping[str, str]) -> dict[str, str]:
        """Clear the recorded changes of items still at these versions; return the new ETag of
        each item cleared (one written again since keeps them, and they are recorded again, to
        the same effect, by whoever flushes it next)."""
        writes = [clear_write(source, item_id, etag) for item_id, etag in etags.items()]
        return (await self.write(writes)).etags

    async def delete_removed(self, source: str, etags: Mapping[str, str]) -> int:
        """Delete items marked removed, if still at these versions; return how many went."""
        writes = [delete_write(source, item_id, etag) for item_id, etag in etags.items()]
        return (await self.write(writes)).removed

    async def purge(self) -> int:
        """Delete every row of this tenant's (not the home's); return how many."""
        return await delete_tenant_rows(self._tables, self._table, self._scope)

    async def _query(self, source: str, id_prefix: str) -> list[StoredItem]:
        query, parameters = "PartitionKey eq @source", {"source": self._scope.key(source)}
        if id_prefix:
            query += " and RowKey ge @low and RowKey lt @high"
            low, high = prefix_range(id_prefix)
            parameters |= {"low": low, "high": high}
        async with self._tables.call():
            entities = self._table.query_entities(query, parameters=parameters)
            return [StoredItem(unscoped(self._scope, entity)) async for entity in entities]

    def _partitions(self, sources: list[str]) -> list[str]:
        return [self._scope.key(source) for source in sources]

    def _scoped(self, operation: TableOperation) -> TableOperation:
        kind, entity, options = operation
        return kind, scoped(self._scope, entity), options

    async def _submit(
        self, batch: list[TableOperation], outcome: WriteOutcome, limit: asyncio.Semaphore
    ) -> None:
        try:
            async with limit, self._tables.call():
                results = await self._table.submit_transaction(batch)
        except TableTransactionError as error:
            logger.info("Batch of %d failed (%s); writing one by one", len(batch), error)
            for operation in batch:
                await self._write_one(operation, outcome)
            return
        except StorageUnavailableError as error:
            logger.warning("Batch of %d not written: %s", len(batch), error)
            for _kind, entity, _options in batch:
                outcome.failed[entity["RowKey"]] = "storageUnavailable"
            return
        for (kind, entity, _options), result in zip(batch, results, strict=True):
            _landed(outcome, kind, entity["RowKey"], result)

    async def _write_one(self, operation: TableOperation, outcome: WriteOutcome) -> None:
        """A write whose batch failed, alone and still conditional: a version another writer
        left is a conflict, for the caller to read again and decide anew."""
        kind, entity, options = operation
        item_id = entity["RowKey"]
        try:
            async with self._tables.call():
                if kind == "create":
                    result = await self._table.create_entity(entity)
                elif kind == "delete":
                    await self._table.delete_entity(entity, **options)
                    result = {}
                else:
                    result = await self._table.update_entity(entity, **options)
        except (ResourceExistsError, ResourceModifiedError):
            outcome.conflicts.add(item_id)
        except ResourceNotFoundError:
            if kind == "delete":
                return  # gone already: nothing left to do
            outcome.conflicts.add(item_id)  # removed meanwhile
        except StorageUnavailableError as error:
            logger.warning("Could not write %s: %s", item_id, error)
            outcome.failed[item_id] = "storageUnavailable"
        except (HttpResponseError, ValueError) as error:
            code = getattr(error, "error_code", None) or type(error).__name__
            logger.warning("Could not write %s: %s", item_id, error)
            outcome.failed[item_id] = str(code)
        else:
            _landed(outcome, kind, item_id, result)


def _landed(outcome: WriteOutcome, kind: str, item_id: str, result: Mapping[str, Any]) -> None:
    if kind == "delete":
        outcome.removed += 1
        return
    outcome.written += 1
    etag = result.get("etag")
    if etag:
        outcome.etags[item_id] = etag
