"""``{prefix}History``: every change of an item's status or health.

PartitionKey is the source (another tenant's than the home's: ``{tenantId}|{source}``);
RowKey the item's (escaped) id, ``~``, then an inverted time and
the event id, so an item's changes sort together, newest first.
"""

from __future__ import annotations

import hashlib

from azure.data.tables import UpdateMode

from shared.core.changes import StatusChange
from shared.core.tenancy import TenantScope
from shared.core.time import timestamp_ns
from shared.storage.codec import get_text, put_text
from shared.storage.scoping import delete_tenant_rows
from shared.storage.tables import Continuation, TableOperation, TableService

# "~" is the highest printable ASCII character; DEL sorts after every key of an item.
_SEPARATOR = "~"
_AFTER = "\x7f"
_NS_CEILING = 10**20


class HistoryTable:
    """One tenant's history (``scope``); pruning, by age, is of every tenant's."""

    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._table = tables.table("History")
        self._scope = scope

    async def record(self, changes: list[StatusChange], event_ids: list[str]) -> None:
        """Add changes to the history, as batch transactions per source. Recording a change
        again (same event id) rewrites its entry."""
        operations: list[TableOperation] = []
        for change, event_id in zip(changes, event_ids, strict=True):
            entity = {
                "PartitionKey": self._scope.key(change.source),
                "RowKey": _history_key(change.id, change.changedDateTime, event_id),
                "changedDateTime": change.changedDateTime,
            }
            put_text(entity, "change", change.model_dump_json())
            operations.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
        await self._tables.submit_all(self._table, operations)

    async def page(
        self, source: str, item_id: str, *, top: int, continuation: Continuation | None
    ) -> tuple[list[StatusChange], Continuation | None]:
        """One page of an item's changes, newest first."""
        prefix = _escape_id(item_id) + _SEPARATOR
        query = "PartitionKey eq @source and RowKey ge @low and RowKey lt @high"
        partition = self._scope.key(source)
        parameters = {"source": partition, "low": prefix, "high": prefix[:-1] + _AFTER}
        entities, continuation = await self._tables.query_page(
            self._table, query, parameters, top, continuation
        )
        changes = [
            StatusChange.model_validate_json(get_text(e, "change") or "{}") for e in entities
        ]
        return changes, continuation

    async def purge(self) -> int:
        """Delete every row of this tenant's (not the home's); return how many."""
        return await delete_tenant_rows(self._tables, self._table, self._scope)

    async def prune(self, before: str) -> int:
        """Delete changes older than ``before`` (a timestamp); return how many."""
        return await self._tables.delete_where(
            self._table, "changedDateTime lt @before", {"before": before}
        )


def _escape_id(item_id: str) -> str:
    escaped = item_id.replace("%", "%25").replace("~", "%7E").replace("=", "%3D")
    # A RowKey holds 1 KiB (UTF-16) and the time and event id take 58 characters: a long id
    # is named by its digest instead ("=" starts no escaped id, so the two cannot meet).
    if len(escaped.encode("utf-16-le")) > 800:
        return "=" + hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()
    return escaped


def _history_key(item_id: str, changed: str, event_id: str) -> str:
    inverted = _NS_CEILING - timestamp_ns(changed)
    return f"{_escape_id(item_id)}{_SEPARATOR}{inverted:020d}-{event_id}"
