"""``GET /api/statuses``: one flat row per monitored item, for "is any sync broken, since
when, and why?", with the tenant on each row. Today's route lists every tenant's (the home
tenant first, then the others by id; ``?tenantId=`` narrows it to one); a tenant's route
(``/api/tenants/{tenantId}/statuses``) lists that tenant's alone. ``?health=`` and
``?source=`` filter (comma-separated); ``$top`` and a next link page it, across tenants: the
skip token says where in which tenant the next page starts."""

from __future__ import annotations

from typing import Any

from shared.core.api import ApiCall, PageRequest, Reply, name_filter, next_link
from shared.core.health import Health
from shared.settings import Settings
from shared.sources import SOURCE_NAMES, source_named
from shared.sources.base import ItemSummary, Services
from shared.storage.scoping import continuation_owner
from shared.storage.store import StatusStore
from shared.tenants.choices import tenant_settings
from shared.tenants.models import Tenant
from shared.tenants.registry import every_tenant, scope_of, tenant_named


async def statuses_of_tenant(call: ApiCall, services: Services) -> Reply:
    """A tenant's route: that tenant's items (its store and settings are the services')."""
    query = _Query.of(call)
    store, settings = services.store, services.settings
    rows, continuation = await _page_of(store, settings, query, query.page.top,
                                        query.page.continuation)  # fmt: skip
    body: dict[str, Any] = {"value": rows}
    if continuation:
        body["@odata.nextLink"] = next_link(call, query.page, continuation, query.filters)
    return Reply(body)


async def list_statuses(call: ApiCall, services: Services) -> Reply:
    """Today's route: every tenant's items, or (``?tenantId=``) one tenant's."""
    query = _Query.of(call)
    settings, store = services.settings, services.store
    given = call.query.get("tenantId")
    if given is not None:
        tenants = [(await tenant_named(settings, store, given))[0]]
    else:
        tenants = await every_tenant(settings, store)
    start, continuation = _start(tenants, query.page.continuation)
    rows: list[dict[str, Any]] = []
    token: dict[str, str] | None = None
    for index in range(start, len(tenants)):
        tenant = tenants[index]
        room = query.page.top - len(rows)
        found, continuation = await _page_of(
            store.for_tenant(scope_of(tenant)), tenant_settings(settings, tenant), query, room,
            continuation,
        )  # fmt: skip
        rows += found
        if continuation:  # more of this tenant's
            token = continuation
            break
        continuation = None
        if len(rows) >= query.page.top and index + 1 < len(tenants):
            token = {"tenantId": tenants[index + 1].tenantId}
            break
    body: dict[str, Any] = {"value": rows}
    if token:
        filters = query.filters | ({"tenantId": given} if given is not None else {})
        body["@odata.nextLink"] = next_link(call, query.page, token, filters)
    return Reply(body)


class _Query:
    """The filters and the page asked for."""

    def __init__(self, healths: list[str] | None, names: list[str] | None, page: PageRequest):
        self.healths, self.names, self.page = healths, names, page
        self.filters = {
            name: ",".join(values)
            for name, values in (("health", healths), ("source", names))
            if values
        }

    @classmethod
    def of(cls, call: ApiCall) -> _Query:
        return cls(
            name_filter(call.query.get("health"), "health", [str(h) for h in Health]),
            name_filter(call.query.get("source"), "source", list(SOURCE_NAMES)),
            PageRequest.of(call),
        )


def _start(
    tenants: list[Tenant], token: dict[str, str] | None
) -> tuple[int, dict[str, str] | None]:
    """Which tenant a page starts at, and where in it (a skip token names the tenant, or is
    storage's own continuation within it: its partition says whose)."""
    if token is None:
        return 0, None
    ids = [tenant.tenantId for tenant in tenants]
    if "tenantId" in token:
        wanted = token["tenantId"]
        return (ids.index(wanted), None) if wanted in ids else (len(ids), None)
    owner = continuation_owner(token)
    for index, tenant in enumerate(tenants):
        if (owner is None and tenant.home) or owner == tenant.tenantId:
            return index, token
    return len(ids), None  # that tenant went meanwhile: nothing more


async def _page_of(
    store: StatusStore,
    settings: Settings,
    query: _Query,
    top: int,
    continuation: dict[str, str] | None,
) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    sources = query.names or list(settings.enabled_sources)
    if not sources or top <= 0:
        return [], None
    items, continuation = await store.statuses.page(
        sources=sources, healths=query.healths, top=top, continuation=continuation
    )
    listed = {run.source: run.listed_date_time for run in await store.poll_runs.read_all()}
    summaries = [source_named(item.source).summarize(item) for item in items]
    scope = store.scope
    # Another tenant's items are served under its own routes.
    under = "" if scope.home else f"/tenants/{scope.tenant_id}"
    rows = [_row(row, listed.get(row.source), scope.tenant_id, under) for row in summaries]
    return rows, continuation


def _row(row: ItemSummary, listed: str | None, tenant_id: str, under: str) -> dict[str, Any]:
    # An item the poll could read was read at its source's last complete listing at least;
    # one it could not read keeps the time it was last read.
    checked = row.last_checked_date_time
    if not row.poll_error and listed and (checked is None or listed > checked):
        checked = listed
    since, since_from = row.since
    return {
        "tenantId": tenant_id,
        "source": row.source,
        "id": row.id,
        "displayName": row.display_name,
        "status": row.status,
        "health": row.health,
        "healthSince": row.health_since,
        "sinceDateTime": since,
        "sinceFrom": since_from,
        "lastCheckedDateTime": checked,
        "reason": row.reason,
        "pollError": row.poll_error,
        "path": _under(source_named(row.source).item_path(row.id), under),
    }


def _under(path: str, under: str) -> str:
    """``/api/x`` as ``/api/tenants/{tenantId}/x`` for another tenant than the home."""
    return path if not under else path.replace("/api/", f"/api{under}/", 1)
