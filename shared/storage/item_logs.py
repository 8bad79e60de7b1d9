"""``{prefix}ItemLogs``: log entries a source keeps about one of its items (a provisioning
job's failed objects, read from the provisioning logs), each the JSON Graph sent.

PartitionKey is the source and the item's log key, ``{source}~{key}`` (another tenant's than
the home's: ``{tenantId}|{source}~{key}``); RowKey an inverted
time and the entry's id, so a partition reads newest first. ``at`` holds the entry's time
(what windows and pruning select on), beside any columns the source keeps for summing up
without reading whole documents. Entries are kept ITEM_LOGS_KEPT at most (pruned daily).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from azure.data.tables import UpdateMode

from shared.core.tenancy import TenantScope
from shared.core.time import graph_timestamp, parse_timestamp, timestamp_ns
from shared.storage.codec import get_document, put_document
from shared.storage.scoping import delete_tenant_rows
from shared.storage.tables import Continuation, TableOperation, TableService

_NS_CEILING = 10**20
# How long an item's log entries are kept at most.
ITEM_LOGS_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class LogEntry:
    """One entry of an item's log: when it happened, its id, the document itself, and the
    columns kept beside it (short texts a summary reads without the document)."""

    at: str
    id: str
    document: dict[str, Any]
    columns: dict[str, str] = field(default_factory=dict)


class ItemLogTable:
    """One tenant's item logs (``scope``); pruning, by age, is of every tenant's."""

    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._table = tables.table("ItemLogs")
        self._scope = scope

    async def add(self, source: str, key: str, entries: list[LogEntry]) -> None:
        """Keep entries (one already kept is rewritten, not added twice)."""
        operations: list[TableOperation] = []
        for entry in entries:
            entity = {
                "PartitionKey": self._partition(source, key),
                "RowKey": _row_key(entry.at, entry.id),
                # One format, so that times compare as text in queries.
                "at": graph_timestamp(parse_timestamp(entry.at)),
                **entry.columns,
            }
            put_document(entity, "document", entry.document)
            operations.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
        await self._tables.submit_all(self._table, operations)

    async def page(
        self, source: str, key: str, *, top: int, continuation: Continuation | None
    ) -> tuple[list[dict[str, Any]], Continuation | None]:
        """One page of an item's entries, newest first."""
        partition = {"p": self._partition(source, key)}
        entities, continuation = await self._tables.query_page(
            self._table, "PartitionKey eq @p", partition, top, continuation
        )
        return [get_document(entity, "document") or {} for entity in entities], continuation

    async def columns_since(
        self, source: str, key: str, since: str, columns: list[str]
    ) -> list[LogEntry]:
        """An item's entries at or after ``since``, newest first, with ``columns`` only (not
        their documents)."""
        query = "PartitionKey eq @p and at ge @since"
        since = graph_timestamp(parse_timestamp(since))
        parameters = {"p": self._partition(source, key), "since": since}
        async with self._tables.call():
            found = self._table.query_entities(
                query, parameters=parameters, select=["RowKey", "at", *columns]
            )
            return [
                LogEntry(e["at"], e["RowKey"], {}, {c: e.get(c) or "" for c in columns})
                async for e in found
            ]

    async def trim(self, source: str, key: str, *, keep: int, before: str) -> int:
        """Delete an item's entries past the newest ``keep`` and those older than ``before``;
        return how many."""
        async with self._tables.call():
            found = self._table.query_entities(
                "PartitionKey eq @p", parameters={"p": self._partition(source, key)},
                select=["PartitionKey", "RowKey", "at"],
            )  # fmt: skip
            rows = [entity async for entity in found]
        doomed: list[TableOperation] = [
            ("delete", {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"]}, {})
            for index, e in enumerate(rows)
            if index >= keep or e["at"] < graph_timestamp(parse_timestamp(before))
        ]
        await self._tables.submit_all(self._table, doomed)
        return len(doomed)

    async def purge(self) -> int:
        """Delete every row of this tenant's (not the home's); return how many."""
        return await delete_tenant_rows(self._tables, self._table, self._scope)

    def _partition(self, source: str, key: str) -> str:
        return self._scope.key(f"{source}~{key}")

    async def prune(self, before: str) -> int:
        """Delete every entry older than ``before``; return how many."""
        before = graph_timestamp(parse_timestamp(before))
        return await self._tables.delete_where(self._table, "at lt @before", {"before": before})


def _row_key(at: str, entry_id: str) -> str:
    return f"{_NS_CEILING - timestamp_ns(at):020d}-{entry_id}"
