"""Sources whose items are kept whole, as the JSON text Graph sent (provisioning jobs,
Industry Data runs): the cached entry, its entity, and reading it back.

The JSON is stored as text (order, nulls, Int64 and 7-digit timestamps survive as they are),
split past 64 KiB and compressed past 512 KiB; the summary columns (``displayName``,
``status``, health) are written beside it for /api/statuses. Nothing but a poll writes these
items.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from shared.core.api import Reply
from shared.core.health import Assessment, Document
from shared.core.jsontext import fingerprint
from shared.settings import Settings
from shared.sources.base import SINCE_COLUMN, Source, summary_columns
from shared.storage.codec import Entity, etag_of, get_document, put_document, put_optional
from shared.storage.store import StatusStore

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

    def from_entity(self, entity: Entity) -> Entry:
        return self.entry_type(
            source=self,
            id=entity["RowKey"],
            resource=get_document(entity, "resource") or {},
            graph_hash=entity.get("graphHash", ""),
            graph_context=entity.get("graphContext"),
            health_since=entity.get("healthSince", ""),
            since_date_time=entity.get(SINCE_COLUMN, ""),
            last_checked_date_time=entity.get("lastCheckedDateTime", ""),
            etag=etag_of(entity),
            **self.entry_type.read_extra(entity),
        )

    async def cached(self, store: StatusStore, item_id: str) -> Entry | None:
        entity = await store.statuses.get(self.name, item_id)
        return None if entity is None else self.from_entity(entity)

    def document_in(self, entity: Entity) -> dict[str, Any]:
        return self.from_entity(entity).resource

    async def cached_items(self, store: StatusStore, *, id_prefix: str = "") -> list[Entry]:
        entities = await store.statuses.list_items(self.name, id_prefix=id_prefix)
        return [self.from_entity(entity) for entity in entities]


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

    def to_entity(self) -> Entity:
        entity: Entity = {
            "PartitionKey": self.source.name,
            "RowKey": self.id,
            "graphHash": self.graph_hash,
        }
        put_optional(entity, "graphContext", self.graph_context)
        put_optional(entity, "displayName", self.source.name_of_resource(self.resource))
        put_optional(entity, "status", self.source.status_of_resource(self.resource))
        put_document(entity, "resource", self.resource)
        entity.update(
            summary_columns(
                self.health, self.health_since, self.last_checked_date_time, self.since_date_time
            )
        )
        return entity

    def refresh_columns(self, current: Entity) -> tuple[dict[str, Any], Assessment]:
        return {}, self.health

    @classmethod
    def read_extra(cls, entity: Entity) -> dict[str, Any]:
        """The fields a subclass keeps beside the resource, read from the entity."""
        return {}


def document_reply(item: CachedDocument, settings: Settings, context_path: str) -> Reply:
    """An item as Graph sent it, with the ``@odata.context`` Graph gave (or the one it
    would give, under GRAPH_BASE_URL)."""
    context = item.graph_context or f"{settings.graph_base_url}{context_path}"
    return Reply({"@odata.context": context, **item.resource})
