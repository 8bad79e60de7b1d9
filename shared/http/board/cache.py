"""The board's pages, rendered off the event loop and once per version of the data.

Rendering every item (2,000 of them: a few hundred milliseconds of CPU, 2 MB of HTML) on the
event loop for each request stalls every other request of the instance, and fifty viewers
render fifty copies at once. The data changes only when something writes it (a poll, a
PATCH, a job action), so the page is rendered once per version of the data instead:

**A snapshot per version.** One read of the cache (the health report and every item's
summary columns, ``view.read_cache``) becomes a ``Snapshot``, its rows built in a worker
thread. Every page (each filter, each viewer) is cut from the current snapshot, so the
filters show the same read of the data.

**The version, cheaply.** Table Storage stamps every write of an entity with a new
``Timestamp`` and ETag; every writer of an item goes through it (a poll's batches and
flushes, a PATCH, a job action, the mark of an item removed, which comes before its
deletion), and every poll ends by saving its poll record. So the board ``ask``s for the poll
records (one per source) and for the keys, ETags and Timestamps of the items written at or
after ``since``, and hashes them (``version_of``). ``since`` is when the snapshot was read,
less CLOCK_MARGIN for the difference between this clock and storage's, and the first ask
comes just before the read. Asked again later, the same version means nothing was written
in between (a later write has a later Timestamp and a new ETag, so it shows), and the
snapshot holds; ``since`` then moves on to that ask (less the margin), so an ask returns
only the items written in the last seconds: two small queries, however many items, instead
of reading and parsing every row. The version is asked for at most every CHECK_EVERY, by one
request at a time (the others wait for its answer, as they wait for a new snapshot's read):
a change made by a poll or a PATCH is on the board a second and a render later at most.

**Incidents and maintenance windows** change outside of polls too (an acknowledgement
through the API or the board, a window made or ended), so the version also holds each
unresolved incident's id and ETag (a write gives it a new one; a resolved one leaves the
list) and each window not over, with whether it has begun (one that begins or ends changes
it): two more small queries, of one partition each (``view.read_marks``), whose answer the
snapshot is built with. A board action tells ``changed``: the tenant's next page asks for
the version at once, whatever CHECK_EVERY says, so the person who acted sees it.

**A maximum age.** A snapshot is read again after MAX_AGE even if nothing was written: the
page says how long ago things happened, and a source whose polls stopped coming turns stale
with time alone. That also bounds what a clock further off than CLOCK_MARGIN could hide.

**Pages.** A page depends on the snapshot and its ``Variant``: the filters, the viewer
(the key kept on its links, or the name it shows) and the tenant (the tenantId kept on its
links, the name it shows). Each is rendered once per snapshot
(concurrent requests for it share one render), in a worker thread (Jinja2, then gzip),
RENDERS_AT_ONCE at a time, and kept gzipped with an ETag (a hash of the page) for the
MAX_PAGES variants asked last. Memory stays bounded whatever the number of viewers: per
tenant, one snapshot and MAX_PAGES compressed pages, and the renders under way.

**Per tenant.** Each tenant has its own state: its snapshot, read from its rows
(``StatusStore.for_tenant``) with its settings (kept while they compare equal), its version
asked of its own poll records and of its own items written since (so a write to one tenant
renders none of the others' pages again), and its pages. The overview of the tenants is cut
from their snapshots (``snapshot``). The registry is read at most every CHECK_EVERY too
(``recent``), and the state of a tenant no longer in it is dropped (``keep_tenants``).

The state is kept per store (one per event loop, from the composition root), in the
``BoardPages`` the board's routes are registered with.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Coroutine, Hashable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from shared.core.tenancy import TenantScope
from shared.http.board.incident_rows import Marks
from shared.http.board.view import Snapshot, read_cache, read_marks, snapshot_of
from shared.settings import Settings
from shared.storage.poll_runs import PollRun
from shared.storage.store import StatusStore

CHECK_EVERY = 1.0  # seconds a version asked for is trusted
MAX_AGE = 30.0  # seconds a snapshot is shown at most
CLOCK_MARGIN = timedelta(seconds=5)
MAX_PAGES = 16
RENDERS_AT_ONCE = 2
_GZIP_LEVEL = 6

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class Lru(Generic[K, V]):
    """At most ``size`` values, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Variant:
    """What a page shows besides the snapshot: its viewer, its filters and its tenant."""

    key: str | None
    name: str | None
    health: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    # The tenantId its links keep (None: the request named none), and the tenant's name it
    # shows with a link to the overview (None: the deployment's only tenant).
    tenant_id: str | None = None
    tenant_name: str | None = None


@dataclass(frozen=True)
class Page:
    """A rendered page: the snapshot it shows (its serial number), its ETag, its gzip."""

    serial: int
    etag: str
    gzipped: bytes


# Renders a page of a snapshot as UTF-8 HTML; called in a worker thread.
Render = Callable[[Snapshot, Variant], bytes]


@dataclass
class _Held:
    snapshot: Snapshot
    serial: int
    version: str
    since: datetime
    read_at: float  # time.monotonic() when its read began
    checked_at: float  # when its version was last asked for (the ask's start)


class _State:
    """One tenant's current snapshot, its pages and what is under way."""

    def __init__(self, settings: Settings, store: StatusStore, max_pages: int) -> None:
        self.settings = settings
        self.store = store  # the tenant's rows
        self.held: _Held | None = None
        self.serial = 0
        self.refreshing: asyncio.Future[_Held] | None = None
        self.pages: Lru[Variant, Page] = Lru(max_pages)
        self.renders: dict[tuple[int, Variant], asyncio.Future[Page]] = {}
        self.slots = asyncio.Semaphore(RENDERS_AT_ONCE)
        # When a board action last changed something of it (time.monotonic()).
        self.changed_at = float("-inf")

    def fresh(self, held: _Held) -> bool:
        """Whether ``held`` was checked after the last change a board action made."""
        return held.checked_at > self.changed_at

    def keep(self, variant: Variant, page: Page) -> None:
        kept = self.pages.get(variant)
        if kept is None or kept.serial <= page.serial:  # a slow older render never wins
            self.pages.put(variant, page)


class BoardPages:
    """The board's rendered pages, per store (see the module's docstring)."""

    def __init__(
        self,
        *,
        check_every: float = CHECK_EVERY,
        max_age: float = MAX_AGE,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._check_every = check_every
        self._max_age = max_age
        self._max_pages = max_pages
        self._states: weakref.WeakKeyDictionary[StatusStore, dict[TenantScope, _State]] = (
            weakref.WeakKeyDictionary()
        )
        self._recent: weakref.WeakKeyDictionary[StatusStore, _Recent] = weakref.WeakKeyDictionary()

    async def page(
        self, settings: Settings, store: StatusStore, variant: Variant, render: Render,
        tenant: TenantScope | None = None,
    ) -> Page:  # fmt: skip
        """The page of ``variant`` for the current version of the data of ``tenant`` (None:
        the store's own), read with ``settings`` (that tenant's)."""
        state = self._state(settings, store, tenant or store.scope)
        held = await self._current(state)
        page = state.pages.get(variant)
        if page is not None and page.serial == held.serial:
            return page
        key = (held.serial, variant)
        flight = state.renders.get(key)
        if flight is None:
            flight = _start(self._render(state, held, variant, render))
            state.renders[key] = flight
            flight.add_done_callback(lambda _done: state.renders.pop(key, None))
        return await asyncio.shield(flight)

    async def snapshot(
        self, settings: Settings, store: StatusStore, tenant: TenantScope | None = None
    ) -> Snapshot:
        """The current snapshot of ``tenant``'s data (what its board's pages are cut from)."""
        held = await self._current(self._state(settings, store, tenant or store.scope))
        return held.snapshot

    async def recent(self, store: StatusStore, read: Callable[[], Awaitable[T]]) -> T:
        """What ``read`` (the registry) answered at most CHECK_EVERY ago, asked by one
        request at a time."""
        recent = self._recent.get(store)
        if recent is None:
            recent = self._recent[store] = _Recent()
        flight = recent.flight
        if flight is None:
            if time.monotonic() - recent.at < self._check_every:
                return cast("T", recent.value)
            flight = recent.flight = _start(_read_recent(recent, read))
        return cast("T", await asyncio.shield(flight))

    def changed(self, store: StatusStore, tenant: TenantScope) -> None:
        """A board action changed the tenant's data (an incident): its next page asks for
        the version at once."""
        state = self._states.get(store, {}).get(tenant)
        if state is not None:
            state.changed_at = time.monotonic()

    def keep_tenants(self, store: StatusStore, scopes: Collection[TenantScope]) -> None:
        """Drop the state of every tenant but these (those no longer in the registry)."""
        states = self._states.get(store, {})
        for scope in [scope for scope in states if scope not in scopes]:
            del states[scope]

    def _state(self, settings: Settings, store: StatusStore, scope: TenantScope) -> _State:
        states = self._states.get(store)
        if states is None:
            states = self._states[store] = {}
        state = states.get(scope)
        if state is None or (state.settings is not settings and state.settings != settings):
            view = store.for_tenant(scope)
            state = states[scope] = _State(settings, view, self._max_pages)
        return state

    async def _current(self, state: _State) -> _Held:
        held, now = state.held, time.monotonic()
        if (
            held is not None
            and now - held.checked_at < self._check_every
            and now - held.read_at < self._max_age
            and state.fresh(held)
        ):
            return held
        held = await self._refreshed(state)
        if not state.fresh(held):  # asked for before the change: ask again, after it
            held = await self._refreshed(state)
        return held

    async def _refreshed(self, state: _State) -> _Held:
        flight = state.refreshing
        if flight is None:
            flight = state.refreshing = _start(self._refresh(state))
            flight.add_done_callback(lambda done: _forget_refresh(state, done))
        return await asyncio.shield(flight)

    async def _refresh(self, state: _State) -> _Held:
        held, store = state.held, state.store
        if held is not None and time.monotonic() - held.read_at < self._max_age:
            asked_at, asked_on = time.monotonic(), datetime.now(UTC)
            asked = await ask(store, held.since)
            if version_of(asked, held.since) == held.version:
                # Unchanged when asked: what is written from then on is written after
                # ``asked_on``, so the next ask can start there (and return less).
                held.since = max(held.since, asked_on - CLOCK_MARGIN)
                held.version = version_of(asked, held.since)
                held.checked_at = asked_at
                return held
        read_at = time.monotonic()
        since = datetime.now(UTC) - CLOCK_MARGIN
        asked = await ask(store, since)
        version = version_of(asked, since)
        report, entities = await read_cache(state.settings, store)
        snapshot = await asyncio.to_thread(
            snapshot_of, state.settings, report, entities, datetime.now(UTC), asked.marks
        )
        state.serial += 1
        state.held = _Held(snapshot, state.serial, version, since, read_at, read_at)
        return state.held

    async def _render(self, state: _State, held: _Held, variant: Variant, render: Render) -> Page:
        async with state.slots:
            etag, gzipped = await asyncio.to_thread(_rendered, render, held.snapshot, variant)
        page = Page(held.serial, etag, gzipped)
        state.keep(variant, page)
        return page


@dataclass
class _Recent:
    """A value read at most every CHECK_EVERY: when it was read, and the read under way."""

    value: Any = None
    at: float = float("-inf")
    flight: asyncio.Future[Any] | None = None


async def _read_recent(recent: _Recent, read: Callable[[], Awaitable[T]]) -> T:
    try:
        asked_at = time.monotonic()
        recent.value = await read()
        recent.at = asked_at
        return cast("T", recent.value)
    finally:
        recent.flight = None


Written = list[tuple[str, str, str, datetime]]


@dataclass(frozen=True)
class Asked:
    """What a version is made of: the poll records, the items written since, and the
    incidents and windows (``view.read_marks``)."""

    runs: list[PollRun]
    written: Written
    marks: Marks


async def ask(store: StatusStore, since: datetime) -> Asked:
    """The poll records, the items written at or after ``since``, the incidents not resolved
    and the windows not over: four small queries."""
    runs, written, marks = await asyncio.gather(
        store.poll_runs.read_all(), store.statuses.written_since(since), read_marks(store)
    )
    return Asked(runs, written, marks)


def version_of(asked: Asked, since: datetime) -> str:
    """The version of what the board shows, as far as writes at or after ``since`` go: the
    poll records, the keys and ETags of the items written since, each unresolved incident's
    ETag, and each window not over (and whether it has begun)."""
    records = sorted((asdict(run) for run in asked.runs), key=lambda record: record["source"])
    items = sorted((source, key, etag) for source, key, etag, at in asked.written if at >= since)
    marks = asked.marks
    windows = sorted(
        (window.model_dump_json(), window.startDateTime <= marks.at) for window in marks.windows
    )
    text = json.dumps([records, items, sorted(marks.etags), windows], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _rendered(render: Render, snapshot: Snapshot, variant: Variant) -> tuple[str, bytes]:
    html = render(snapshot, variant)
    etag = f'W/"{hashlib.sha256(html).hexdigest()[:32]}"'
    return etag, gzip.compress(html, compresslevel=_GZIP_LEVEL)


def _start(work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Work that waiters share: it goes on when one of them is cancelled, and its failure
    is retrieved even if every waiter has gone."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


def _forget_refresh(state: _State, done: asyncio.Future[_Held]) -> None:
    if state.refreshing is done:
        state.refreshing = None
