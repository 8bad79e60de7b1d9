"""``{prefix}Statuses``: the cache itself, one entity per monitored item.

PartitionKey is the source's name, RowKey the item's id. How an item becomes an entity is its
source's business (``shared/sources/<name>/``); every item carries the same summary columns,
which /api/statuses filters and serves: ``displayName``, ``status`` (raw), ``health``,
``healthSince``, ``reason``, ``lastCheckedDateTime`` and ``pollError`` (set while the poll
cannot read the item). ``pendingChanges`` holds changes a poll could not record yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode

from shared.core.changes import StatusChange
from shared.core.errors import NotFoundError, StorageUnavailableError, VersionConflictError
from shared.storage.codec import Entity, put_text
from shared.storage.keys import prefix_range
from shared.storage.tables import (
    TRANSACTIONS_AT_ONCE,
    Continuation,
    TableOperation,
    TableService,
    any_of,
    batches_of,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheWrite:
    """One write a poll makes to the cache.

    ``create`` a new item; ``replace`` it when Graph's data changed; ``merge`` only some
    columns (the rest is unchanged and may carry a PATCH); ``delete`` an item a complete
    listing no longer has. ``etag`` is the version the poll read (None to create).
    """

    kind: Literal["create", "replace", "merge", "delete"]
    entity: Entity
    etag: str | None = None

    @property
    def item_id(self) -> str:
        return self.entity["RowKey"]

    def table_operation(self) -> TableOperation:
        if self.kind == "create":
            return ("create", self.entity, {})
        if self.etag is None:
            raise ValueError(f"a {self.kind} needs the ETag the poll read")
        condition = {"etag": self.etag, "match_condition": MatchConditions.IfNotModified}
        if self.kind == "delete":
            keys = {"PartitionKey": self.entity["PartitionKey"], "RowKey": self.entity["RowKey"]}
            return ("delete", keys, condition)
        mode = UpdateMode.REPLACE if self.kind == "replace" else UpdateMode.MERGE
        return ("update", self.entity, {**condition, "mode": mode})


@dataclass
class WriteOutcome:
    """What a batch of cache writes did; ``failed`` maps item ids to an error code."""

    written: int = 0
    removed: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class StatusesTable:
    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self._table = tables.table("Statuses")

    async def get(self, source: str, item_id: str) -> Entity | None:
        async with self._tables.call():
            try:
                return await self._table.get_entity(source, item_id)
            except ResourceNotFoundError:
                return None

    async def page(
        self,
        *,
        sources: list[str],
        filters: Mapping[str, list[str]] | None = None,
        top: int,
        continuation: Continuation | None,
    ) -> tuple[list[Entity], Continuation | None]:
        """One page of items of these sources (by source, then id), optionally only those
        whose columns hold one of the values ``filters`` gives (``{"health": ["error"]}``)."""
        parameters: dict[str, Any] = {}
        query = any_of("PartitionKey", "p", sources, parameters)
        for index, (column, values) in enumerate((filters or {}).items()):
            query += " and " + any_of(column, f"f{index}_", values, parameters)
        return await self._tables.query_page(self._table, query, parameters, top, continuation)

    async def list_items(self, source: str, *, id_prefix: str = "") -> list[Entity]:
        """Every cached item of a source, in id order; ``id_prefix`` narrows it (a service
        principal's jobs share the prefix ``{spId}:``)."""
        query, parameters = "PartitionKey eq @source", {"source": source}
        if id_prefix:
            query += " and RowKey ge @low and RowKey lt @high"
            low, high = prefix_range(id_prefix)
            parameters |= {"low": low, "high": high}
        async with self._tables.call():
            entities = self._table.query_entities(query, parameters=parameters)
            return [entity async for entity in entities]

    async def read_source(self, source: str) -> dict[str, Entity]:
        """Every cached entity of a source by RowKey: what a poll compares Graph against."""
        return {entity["RowKey"]: entity for entity in await self.list_items(source)}

    async def replace(self, entity: Entity, *, etag: str) -> str:
        """Replace an item if its ETag is still ``etag``; return the new ETag.

        VersionConflictError when another writer got there first, NotFoundError when the
        item was removed meanwhile.
        """
        async with self._tables.call():
            try:
                result = await self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                raise VersionConflictError(f"'{entity['RowKey']}' changed meanwhile.") from None
            except ResourceNotFoundError:
                raise NotFoundError(f"'{entity['RowKey']}' is no longer cached.") from None
        return result["etag"]

    async def write(self, writes: Iterable[CacheWrite]) -> WriteOutcome:
        """Apply a poll's writes: batch transactions of up to 100 operations per partition.

        Each write is conditional on the ETag the poll read, so a PATCH that landed meanwhile
        is noticed; the batch is then written one by one without the condition (see
        ``_write_one``). A storage outage fails only the batch it hits.
        """
        outcome = WriteOutcome()
        limit = asyncio.Semaphore(TRANSACTIONS_AT_ONCE)

        async def submit(batch: list[TableOperation]) -> None:
            try:
                async with limit, self._tables.call():
                    await self._table.submit_transaction(batch)
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
            for kind, _entity, _options in batch:
                if kind == "delete":
                    outcome.removed += 1
                else:
                    outcome.written += 1

        operations = [write.table_operation() for write in writes]
        await asyncio.gather(*(submit(batch) for batch in batches_of(operations)))
        return outcome

    async def _write_one(self, operation: TableOperation, outcome: WriteOutcome) -> None:
        """A write whose batch failed, alone and unconditionally: Graph's new data wins over a
        PATCH made since the poll read the cache; a MERGE of some columns leaves the others,
        PATCHed or not, as they are."""
        kind, entity, options = operation
        try:
            async with self._tables.call():
                if kind == "delete":
                    with suppress(ResourceNotFoundError):
                        await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
                    outcome.removed += 1
                else:
                    mode = options.get("mode", UpdateMode.REPLACE)
                    await self._table.upsert_entity(entity, mode=mode)
                    outcome.written += 1
        except StorageUnavailableError as error:
            logger.warning("Could not write %s: %s", entity["RowKey"], error)
            outcome.failed[entity["RowKey"]] = "storageUnavailable"
        except (HttpResponseError, ValueError) as error:
            code = getattr(error, "error_code", None) or type(error).__name__
            logger.warning("Could not write %s: %s", entity["RowKey"], error)
            outcome.failed[entity["RowKey"]] = str(code)

    async def keep_pending_changes(self, source: str, changes: list[StatusChange]) -> int:
        """Attach changes that could not be recorded to their items, for the next poll to
        record; return how many found their item (a removed item's change cannot be kept)."""
        by_item: dict[str, list[str]] = {}
        for change in changes:
            by_item.setdefault(change.id, []).append(change.model_dump_json())
        kept = 0
        for item_id, pending in by_item.items():
            entity = {"PartitionKey": source, "RowKey": item_id}
            put_text(entity, "pendingChanges", "[" + ",".join(pending) + "]")
            async with self._tables.call():
                try:
                    await self._table.update_entity(entity, mode=UpdateMode.MERGE)
                except ResourceNotFoundError:
                    continue
            kept += len(pending)
        return kept

    async def clear_pending_changes(self, source: str, item_ids: Iterable[str]) -> None:
        for item_id in item_ids:
            entity = {"PartitionKey": source, "RowKey": item_id, "pendingChanges": ""}
            async with self._tables.call():
                with suppress(ResourceNotFoundError):
                    await self._table.update_entity(entity, mode=UpdateMode.MERGE)
