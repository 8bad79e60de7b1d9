"""What a source is: the contract every folder under ``shared/sources/`` fulfils, and what the
poll engine, the API and the OpenAPI builder ask of it.

A source reads one kind of Graph resource (``observe``), says how healthy an item is and why
(``health_rules``, ``reason``), where the API serves an item (``item_path``), which routes it
adds (``operations``) and how they are described (``openapi``), and which settings and
Graph permission it needs. Everything that is specific to one source stays in its folder;
the rest of the app works from the registry in ``shared/sources/__init__.py``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shared.core.api import ApiCall, Reply
from shared.core.errors import InvalidKeyError
from shared.core.graph_ids import UNSAFE_ID_CODE, UnsafeIds
from shared.core.health import (
    Assessment,
    Document,
    Health,
    HealthRule,
    assess,
    began,
    since_kept,
)
from shared.core.jsontext import ensure_storable
from shared.graph.errors import GraphError
from shared.settings import Settings, SourceSettings
from shared.storage.items import ItemRecord, ItemUpdate, StoredItem
from shared.storage.keys import validate_key
from shared.storage.source_state import SourceState
from shared.storage.store import StatusStore

if TYPE_CHECKING:
    from shared.core.openapi import OpenApiPart
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)


class CacheEntry(Protocol):
    """An item as a poll read it from Graph, ready to be compared with the cache."""

    id: str
    # Fingerprint of what Graph sent: an item is rewritten only when it changes.
    graph_hash: str
    health_since: str
    # When Graph says the current health began, as kept (``since_columns``): "" for none.
    since_date_time: str
    last_checked_date_time: str

    @property
    def health(self) -> Assessment: ...

    @property
    def began(self) -> str | None:
        """When Graph says the condition of ``health`` began (None: Graph does not say)."""
        ...

    def record(self) -> ItemRecord:
        """What the cache keeps of the item, written whole."""
        ...

    def refresh(self, current: StoredItem) -> tuple[ItemUpdate, Assessment]:
        """What of the cached item needs writing although Graph sent the same data (the
        listing's fields, statistics fetched since), and the health of what stays cached (a
        PATCHed status is judged as cached)."""
        ...


@dataclass
class Observation:
    """What a poll read of one source from Graph, ready to compare with the cache."""

    # Items read in full, by id, as they would be cached.
    entries: dict[str, CacheEntry] = field(default_factory=dict)
    # Items listed (or expected) but not read, by id (or a placeholder), with an error code.
    failures: dict[str, str] = field(default_factory=dict)
    # Cached items this poll could not read (beyond ``failures``), with the error code.
    unread: dict[str, str] = field(default_factory=dict)
    # Which cached ids the listing covered completely: those it no longer has are removed.
    removable: Callable[[str], bool] = lambda _item_id: False
    listed: int = 0
    # A listing that failed (all of it, or from some page on).
    error: GraphError | None = None
    # What else the poll reports on the source's health entry (counts and codes only).
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.error is None and not self.failures

    def narrowed(self, item_ids: set[str]) -> Observation:
        """What was seen of these items only (to decide again for them)."""
        return Observation(
            entries={i: entry for i, entry in self.entries.items() if i in item_ids},
            failures={i: code for i, code in self.failures.items() if i in item_ids},
            unread={i: code for i, code in self.unread.items() if i in item_ids},
            removable=self.removable,
            error=self.error,
        )


@dataclass
class ItemSummary:
    """What /api/statuses, the history and the events say of an item, read from its entity."""

    source: str
    id: str
    display_name: str | None
    status: str | None
    health: str
    health_since: str | None
    reason: str | None
    last_checked_date_time: str | None
    poll_error: str | None
    # When Graph says the current health began (None: Graph does not say, or the row was
    # cached before it was kept).
    since_date_time: str | None = None

    @property
    def since(self) -> tuple[str | None, str]:
        """When the current health's condition began, and whose time that is: Graph's own
        (``graph``) where Graph says it, else the app's first sighting of the health
        (``healthSince``, ``firstSeen``)."""
        if self.since_date_time:
            return self.since_date_time, "graph"
        return self.health_since, "firstSeen"


class Services(Protocol):
    """What a route's handler may use besides the request. Each is built on first use, so a
    request that is invalid is answered as such even when the app is not configured."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> StatusStore: ...

    @property
    def tenant_id(self) -> str | None:
        """The tenant a tenant-scoped route is for (``/api/tenants/{tenantId}/...``); None on
        the deployment-wide routes, which serve the home tenant's rows."""
        ...

    def graph(self) -> GraphClient:
        """A Graph client for this request (``async with``: it owns its connections)."""
        ...


# A route's work: the request and the app's services, to a reply.
Handler = Callable[[ApiCall, Services], Awaitable[Reply]]


@dataclass(frozen=True)
class Operation:
    """One route of the API: the function's name in the app, its route under ``/api``, its
    method and its handler. ``anonymous`` routes need no function key; ``admin`` routes need
    the master key (or, behind App Service Authentication, the admin app role)."""

    name: str
    route: str
    method: str
    handler: Handler
    anonymous: bool = False
    admin: bool = False
    # The app checks who calls (a tenant's key, a sign-in), not the host: anonymous to it.
    checked_by_app: bool = False


class Source(ABC):
    """One kind of Graph resource the app monitors."""

    # The name rows, history, events, health and ?source= use, and the cache's partition.
    name: ClassVar[str]
    # What the source is, in words (the README's and the health report's wording).
    title: ClassVar[str]
    # The least-privilege Graph application permission the poll needs.
    permission: ClassVar[str]
    # Permissions it needs besides, in some configurations: (permission, when).
    extra_permissions: ClassVar[tuple[tuple[str, str], ...]] = ()
    # How to switch the source on, for the "no source is enabled" message.
    enable_hint: ClassVar[str]
    # The mapping from the item's raw status to its health, tried in order.
    health_rules: ClassVar[tuple[HealthRule, ...]]
    # Whether an item leaving the cache is a change (history, events). Not for items that
    # only leave a window the app keeps (the newest runs).
    reports_removals: ClassVar[bool] = True
    # The app settings a tenant may choose for itself (the registry's
    # ``sources.{name}.options``); whether it is on is ``sources.{name}.enabled``.
    tenant_options: ClassVar[tuple[str, ...]] = ()
    # What a page of every item reads of this source's own parts besides the summary (what
    # its rows on the board show: a job's kind, a profile's listing fields).
    summary_parts: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def read_settings(self, env: Mapping[str, str]) -> SourceSettings:
        """The source's own settings, from the app settings; SettingsError naming one."""

    @abstractmethod
    async def observe(
        self,
        graph: GraphClient,
        cached: dict[str, StoredItem],
        settings: Settings,
        state: SourceState,
    ) -> Observation:
        """Read the source from Graph; ``cached`` is what the cache holds (by id), ``state``
        what the source keeps between polls besides its items."""

    @abstractmethod
    def document_in(self, item: StoredItem) -> dict[str, Any]:
        """A cached item's document as Graph sent it."""

    def own_settings(self, settings: Settings) -> Any:
        """This source's own settings (its dataclass, from its folder)."""
        return settings.source(self.name)

    def is_retirement(self, error: GraphError) -> bool:
        """Whether Graph's refusal of the whole source means it retired the API (asked again
        once a day, not counted against health) rather than a passing failure or a missing
        permission."""
        return False

    @abstractmethod
    def reason(self, document: Document, extra: Document | None) -> str:
        """One sentence saying why the item has its health."""

    @abstractmethod
    def item_path(self, item_id: str) -> str:
        """Where the API serves the item (the ``path`` of rows, changes and events)."""

    @abstractmethod
    def operations(self) -> tuple[Operation, ...]:
        """The routes this source adds to the API."""

    @abstractmethod
    def openapi(self) -> OpenApiPart:
        """How those routes and their answers are described in the OpenAPI document."""

    def assess(self, document: Document, extra: Document | None = None) -> Assessment:
        """The health of one item and one sentence saying why. ``document`` is the JSON
        Graph sent; ``extra`` what else was read about it (a run's statistics)."""
        return assess(self.health_rules, self.reason, document, extra)

    def began(self, document: Document, extra: Document | None = None) -> str | None:
        """When Graph says the condition of the item's health began (the deciding rule's
        time, as Graph sent it), judged by the same ``document`` and ``extra``; None where
        Graph says nothing of it."""
        return began(self.health_rules, document, extra)

    def display_name_of(self, item: StoredItem) -> str | None:
        return item.display_name

    def kind_of(self, item: StoredItem) -> str | None:
        """What kind of sync the item is, where the source tells its items apart so."""
        return None

    def summarize(self, item: StoredItem) -> ItemSummary:
        return ItemSummary(
            source=self.name,
            id=item.id,
            display_name=self.display_name_of(item),
            status=item.status,
            health=item.health or str(Health.UNKNOWN),
            health_since=item.health_since,
            reason=item.reason,
            last_checked_date_time=item.last_checked_date_time,
            poll_error=item.poll_error or None,
            since_date_time=item.since_date_time or None,
        )


def usable_entries(
    page: Iterable[Any], model: type[Model], failures: dict[str, str]
) -> list[tuple[Model, dict[str, Any]]]:
    """The entries of a listing page that can be cached, checked and as sent (the JSON is
    what gets cached: a model dump would reorder it); the others are counted as failures
    under a placeholder key (the listing is then incomplete: nothing is removed)."""
    usable: list[tuple[Model, dict[str, Any]]] = []
    for item in page:
        try:
            parsed = model.model_validate(item)
            validate_key(parsed.id)  # type: ignore[attr-defined]
            ensure_storable(item)
        except (ValidationError, InvalidKeyError, ValueError) as error:
            # Logged only: the message may quote tenant data, which health must not show.
            logger.warning("A listed %s is not usable: %s", model.__name__, error)
            failures[f"#listing-{len(failures)}"] = "invalidResponse"
            continue
        usable.append((parsed, item))
    return usable


def report_unsafe_ids(unsafe: UnsafeIds, seen: Observation, what: str) -> None:
    """Items left out because their ids may not go into a Graph path: not cached, each a
    failure (the poll is partial), counted by reason on the source's health entry."""
    if not unsafe:
        return
    logger.warning("%d %s left out: their ids are not Graph ids", len(unsafe), what)
    for _ in range(len(unsafe)):
        seen.failures[f"#unsafe-id-{len(seen.failures)}"] = UNSAFE_ID_CODE
    seen.details["unsafeIds"] = unsafe.report()


def health_dates(
    current: StoredItem | None, health: Health, began_now: str | None, at: str
) -> tuple[str, str]:
    """When an item about to be written with ``health`` has had it: (``healthSince``, the
    app's own first sighting, kept from ``current`` while the health holds, else ``at``;
    ``sinceDateTime``, Graph's time of it, see ``core.health.since_kept``). ``current`` is
    the cached item the write replaces (None for a new item)."""
    held = current if current is not None and current.health == str(health) else None
    health_since = (held.health_since if held else None) or at
    kept = (held.since_date_time if held else "") or None
    return health_since, since_kept(began_now, kept, health_since)


def date_health(entry: CacheEntry, current: StoredItem | None, at: str) -> None:
    """Say since when ``entry``, about to replace ``current`` (None: it is new), has its
    health: its ``health_since`` and ``since_date_time`` (``since_columns``)."""
    entry.health_since, entry.since_date_time = health_dates(
        current, entry.health[0], entry.began, at
    )
