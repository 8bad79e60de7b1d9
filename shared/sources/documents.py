"""Sources whose items are kept whole, as the JSON text Graph sent (provisioning jobs,
Industry Data runs): the cached entry, its entity, and reading it back.

The JSON is kept whole as the ``resource`` document (order, nulls, Int64 and 7-digit
timestamps survive as they are), with the summary (name, raw status, health) beside it for
/api/statuses. Nothing but a poll (and a job action's read-back) writes these items.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from shared.core.api import Reply
from shared.core.health import Assessment, Document
from shared.core.jsontext import fingerprint
from shared.settings import Settings
from shared.sources.base import Source
from shared.storage.items import ItemRecord, ItemUpdate, StoredItem
from shared.storage.store import StatusStore

RESOURCE = "resource"

Entry = TypeVar("Entry", bound="CachedDocument")


class DocumentSource(Source, Generic[Entry]):
    """A source whose items are Graph resources kept whole, cached as ``Entry``."""

    # What its items are cached as (a subclass keeps more beside the resource).
    entry_type: ClassVar[type[Any]]

    @abstractmethod
    def name_of_resource(self, resource: dict[str, Any]) -> str | None:
        """The item's name in rows, history and events."""

    @abstractmethod
    def status_of_resource(self, resource: dict[str, Any]) -> str | None:
        """The item's raw status in rows, history and events."""

    def entry(self, item_id: str, resource: dict[str, Any]) -> Entry:
        """A resource as a poll read it, ready to be cached (its ``@odata.context`` apart)."""
        resource = dict(resource)
        context = resource.pop("@odata.context", None)
        return self.entry_type(
            self, item_id, resource, graph_hash=fingerprint(resource), graph_context=context
        )

    def from_stored(self, item: StoredItem) -> Entry:
        return self.entry_type(
            source=self,
            id=item.id,
            resource=item.document(RESOURCE) or {},
            graph_hash=item.graph_hash,
            graph_context=item.graph_context,
            health_since=item.health_since or "",
            since_date_time=item.since_date_time,
            last_checked_date_time=item.last_checked_date_time or "",
            etag=item.etag,
            **self.entry_type.read_extra(item),
        )

    async def cached(self, store: StatusStore, item_id: str) -> Entry | None:
        item = await store.statuses.get(self.name, item_id)
        return None if item is None else self.from_stored(item)

    def document_in(self, item: StoredItem) -> dict[str, Any]:
        return item.document(RESOURCE) or {}

    async def cached_items(self, store: StatusStore, *, id_prefix: str = "") -> list[Entry]:
        items = await store.statuses.list_items(self.name, id_prefix=id_prefix)
        return [self.from_stored(item) for item in items]


@dataclass
class CachedDocument:
    """A Graph resource as cached: Graph's JSON, kept whole."""

    source: DocumentSource = field(repr=False, compare=False)
    id: str
    resource: dict[str, Any]
    graph_hash: str = ""
    graph_context: str | None = None
    health_since: str = ""
    since_date_time: str = ""
    last_checked_date_time: str = ""
    etag: str | None = None

    def context(self) -> Document | None:
        """What else the item is judged by besides the resource (see ``core.health.assess``):
        its health and when Graph says that began are judged by the same."""
        return None

    @property
    def health(self) -> Assessment:
        return self.source.assess(self.resource, self.context())

    @property
    def began(self) -> str | None:
        return self.source.began(self.resource, self.context())

    @property
    def display_name(self) -> str | None:
        return self.source.name_of_resource(self.resource)

    def record(self) -> ItemRecord:
        return ItemRecord(
            source=self.source.name,
            id=self.id,
            graph_hash=self.graph_hash,
            health=self.health,
            health_since=self.health_since,
            since_date_time=self.since_date_time,
            last_checked_date_time=self.last_checked_date_time,
            graph_context=self.graph_context,
            display_name=self.display_name,
            status=self.source.status_of_resource(self.resource),
            texts=self.kept_texts(),
            documents={RESOURCE: self.resource, **self.kept_documents()},
        )

    def kept_texts(self) -> dict[str, str | None]:
        """The short values a subclass keeps beside the resource (None: not kept)."""
        return {}

    def kept_documents(self) -> dict[str, Any]:
        """The documents a subclass keeps beside the resource (None: not kept)."""
        return {}

    def refresh(self, current: StoredItem) -> tuple[ItemUpdate, Assessment]:
        return ItemUpdate(), self.health

    @classmethod
    def read_extra(cls, item: StoredItem) -> dict[str, Any]:
        """The fields a subclass keeps beside the resource, read from the cached item."""
        return {}


def document_reply(item: CachedDocument, settings: Settings, context_path: str) -> Reply:
    """An item as Graph sent it, with the ``@odata.context`` Graph gave (or the one it
    would give, under GRAPH_BASE_URL)."""
    context = item.graph_context or f"{settings.graph_base_url}{context_path}"
    return Reply({"@odata.context": context, **item.resource})
