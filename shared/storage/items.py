"""The cache's items, typed: what a source keeps of an item (``ItemRecord``), what a write
changes of one (``ItemUpdate``), an item as read (``StoredItem``) and the writes that take
them to the table (``CacheWrite``). Only this module knows an item's columns and how each is
encoded (``codec``): the poll's diff, the sources and the routes work from these types.

Every item has the summary columns /api/statuses filters and the board reads
(``displayName``, ``status`` (raw), ``health``, ``healthSince``, ``sinceDateTime``,
``reason``, ``lastCheckedDateTime``, ``pollError``), the fingerprint of what Graph sent
(``graphHash``) with its ``@odata.context``, the changes waiting on it (``pending``), and what
its source keeps besides: texts (short values), documents (JSON kept whole: split past
64 KiB, compressed past 512 KiB) and fields (a JSON object kept as one typed column per
property, ``codec.FieldLayout``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from shared.core.changes import PendingChange
from shared.core.health import Assessment
from shared.storage.codec import (
    Entity,
    FieldLayout,
    etag_of,
    get_document,
    get_fields,
    get_text,
    put_document,
    put_fields,
    put_optional,
    put_text,
)
from shared.storage.pending import LAST_CHANGE_COLUMN, health_timeline, pending_of, put_pending
from shared.storage.tables import TableOperation

__all__ = [
    "SUMMARY_COLUMNS",
    "CacheWrite",
    "FieldLayout",
    "ItemRecord",
    "ItemUpdate",
    "StoredItem",
    "clear_write",
    "create_write",
    "delete_write",
    "merge_write",
    "replace_write",
]

REMOVED_COLUMN = "removed"
# When Graph says the item's current health began ("" when Graph says nothing of it; absent
# from rows cached before it was kept: read as ""). Beside ``healthSince``, the app's own
# first sighting of that health.
_SINCE_COLUMN = "sinceDateTime"
# What a page of every item reads: the summary, the keys, and the item's health timeline.
SUMMARY_COLUMNS = (
    "displayName", "status", "health", "healthSince", "reason", "lastCheckedDateTime",
    "pollError", _SINCE_COLUMN, LAST_CHANGE_COLUMN, "healthTimeline", REMOVED_COLUMN,
)  # fmt: skip


class StoredItem:
    """One cached item as read (its keys plain, not scoped): the summary typed, what its
    source keeps decoded when asked for. ``etag`` is the version it was read at (None for
    one not read from the table)."""

    def __init__(self, columns: Entity, *, etag: str | None = None) -> None:
        self._columns = columns
        self.etag = etag if etag is not None else etag_of(columns)

    def __repr__(self) -> str:
        return f"StoredItem({self.source!r}, {self.id!r}, etag={self.etag!r})"

    @property
    def source(self) -> str:
        return self._columns["PartitionKey"]

    @property
    def id(self) -> str:
        return self._columns["RowKey"]

    @property
    def graph_hash(self) -> str:
        return self._columns.get("graphHash") or ""

    @property
    def graph_context(self) -> str | None:
        return self._columns.get("graphContext")

    @property
    def display_name(self) -> str | None:
        return self._columns.get("displayName")

    @cached_property
    def status(self) -> str | None:
        return get_text(self._columns, "status")

    @property
    def health(self) -> str | None:
        """None for a row cached before health was kept."""
        return self._columns.get("health") or None

    @property
    def reason(self) -> str | None:
        return self._columns.get("reason")

    @property
    def health_since(self) -> str | None:
        return self._columns.get("healthSince") or None

    @property
    def since_date_time(self) -> str:
        return self._columns.get(_SINCE_COLUMN) or ""

    @property
    def last_checked_date_time(self) -> str | None:
        return self._columns.get("lastCheckedDateTime") or None

    @property
    def poll_error(self) -> str:
        return self._columns.get("pollError") or ""

    @property
    def removed(self) -> bool:
        """Whether the item is on its way out: marked removed, its removal change pending."""
        return bool(self._columns.get(REMOVED_COLUMN))

    @property
    def last_changed(self) -> str | None:
        """When its last change happened: the next one is never stamped before it."""
        return self._columns.get(LAST_CHANGE_COLUMN) or None

    @cached_property
    def pending(self) -> list[PendingChange]:
        return pending_of(self._columns)

    @property
    def timeline(self) -> list[list[str]]:
        """Its health changes of the last month, ``[[time, health], ...]``, oldest first."""
        return health_timeline(self._columns)

    def text(self, name: str) -> str | None:
        return get_text(self._columns, name)

    def document(self, name: str) -> Any:
        """A JSON document its source keeps (None when there is none)."""
        return get_document(self._columns, name)

    def has_document(self, name: str) -> bool:
        return name in self._columns or f"{name}Z" in self._columns

    def fields(self, layout: FieldLayout) -> dict[str, Any]:
        return get_fields(self._columns, layout)

    def after(self, write: CacheWrite, etag: str | None = None) -> StoredItem:
        """The item once ``write`` (one of this item's) has landed, at ``etag``."""
        columns = {**self._columns, **write.entity} if write.kind == "merge" else write.entity
        return StoredItem(columns, etag=etag)


@dataclass
class ItemRecord:
    """What a source keeps of an item, written whole (a new item, or Graph sent new data)."""

    source: str
    id: str
    graph_hash: str
    health: Assessment
    health_since: str = ""
    since_date_time: str = ""
    last_checked_date_time: str = ""
    graph_context: str | None = None
    display_name: str | None = None
    status: str | None = None
    # Short values (None: not kept), documents (JSON kept whole; None: not kept) and one
    # object kept as typed columns.
    texts: dict[str, str | None] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    fields: tuple[FieldLayout, dict[str, Any]] | None = None

    def columns(self) -> Entity:
        entity: Entity = {
            "PartitionKey": self.source,
            "RowKey": self.id,
            "graphHash": self.graph_hash,
        }
        put_optional(entity, "graphContext", self.graph_context)
        put_optional(entity, "displayName", self.display_name)
        put_optional(entity, "status", self.status)
        for name, text in self.texts.items():
            put_optional(entity, name, text)
        for name, document in self.documents.items():
            if document is not None:
                put_document(entity, name, document)
        if self.fields is not None:
            put_fields(entity, *self.fields)
        health, reason = self.health
        # pollError is cleared: whoever writes a whole item has just read it.
        entity |= {"health": str(health), "reason": reason, "pollError": ""}
        entity[_SINCE_COLUMN] = self.since_date_time
        if self.health_since:
            entity["healthSince"] = self.health_since
        if self.last_checked_date_time:
            entity["lastCheckedDateTime"] = self.last_checked_date_time
        return entity


@dataclass
class ItemUpdate:
    """What a MERGE changes of a cached item; a field left None stays as it is."""

    health: Assessment | None = None
    health_since: str | None = None
    since_date_time: str | None = None
    last_checked_date_time: str | None = None
    poll_error: str | None = None
    removed: bool | None = None
    display_name: str | None = None
    texts: dict[str, str] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    pending: list[PendingChange] | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) not in (None, {}) for f in dataclasses.fields(self))

    def columns(self, over: StoredItem) -> Entity:
        """The columns the MERGE writes over ``over`` (its keys included)."""
        entity: Entity = {"PartitionKey": over.source, "RowKey": over.id}
        kept = over._columns
        if self.display_name is not None:
            entity["displayName"] = self.display_name
        for name, text in self.texts.items():
            put_text(entity, name, text, over=kept)
        for name, document in self.documents.items():
            put_document(entity, name, document, over=kept)
        if self.health is not None:
            entity["health"], entity["reason"] = str(self.health[0]), self.health[1]
        if self.since_date_time is not None:
            entity[_SINCE_COLUMN] = self.since_date_time
        if self.health_since is not None:
            entity["healthSince"] = self.health_since
        if self.poll_error is not None:
            entity["pollError"] = self.poll_error
        if self.last_checked_date_time is not None:
            entity["lastCheckedDateTime"] = self.last_checked_date_time
        if self.removed is not None:
            entity[REMOVED_COLUMN] = self.removed
        if self.pending is not None:
            put_pending(entity, self.pending, over=kept)
        return entity


@dataclass(frozen=True)
class CacheWrite:
    """One write to the cache, conditional on the version it was decided from.

    ``create`` a new item; ``replace`` it when Graph's data changed; ``merge`` only some
    columns (the rest is unchanged and may carry a PATCH, or clears recorded changes);
    ``delete`` an item that is marked removed. ``etag`` is the version the write was decided
    from (None to create). Made by the functions below, never from columns elsewhere.
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

    @property
    def pending(self) -> list[PendingChange]:
        """The changes the write carries (all those waiting on the item once it lands)."""
        return pending_of(self.entity)


def create_write(record: ItemRecord, pending: list[PendingChange]) -> CacheWrite:
    """A new item, with the changes it makes."""
    entity = record.columns()
    put_pending(entity, pending)
    return CacheWrite("create", entity)


def replace_write(record: ItemRecord, over: StoredItem, pending: list[PendingChange]) -> CacheWrite:
    """The item written whole over the version ``over`` was read at, with every change
    waiting on it (its health timeline goes on)."""
    entity = record.columns()
    put_pending(entity, pending, over=over._columns)
    return CacheWrite("replace", entity, over.etag)


def merge_write(over: StoredItem, update: ItemUpdate) -> CacheWrite:
    """Some columns of the item, over the version ``over`` was read at."""
    return CacheWrite("merge", update.columns(over), over.etag)


def clear_write(source: str, item_id: str, etag: str) -> CacheWrite:
    """The item's recorded changes cleared, if it is still at ``etag``."""
    columns: Entity = {"PartitionKey": source, "RowKey": item_id}
    put_pending(columns, [])
    return CacheWrite("merge", columns, etag)


def delete_write(source: str, item_id: str, etag: str) -> CacheWrite:
    """An item marked removed deleted, if it is still at ``etag``."""
    return CacheWrite("delete", {"PartitionKey": source, "RowKey": item_id}, etag)
