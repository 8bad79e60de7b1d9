"""The status board: every monitored item on one page, worst first, with its last 30 days
(the open incidents first), an item's detail page and an incident's; HTML rendered by the app
from its tables alone (``GET /api/board``, ``GET /api/board/item``, ``GET
/api/board/incident``). See ``access`` for who may see it and which tenants, ``page`` for
how it is served, ``guard`` for its forms (a job's actions, an incident's).

With one tenant (the home tenant alone in the registry) the board is that tenant's. With
several, ``/api/board`` is the overview of the tenants the viewer may see (``overview``), and
``?tenantId=`` (on the board, an item's page and an action's form) names the tenant a page
is for (``scope``); every link a tenant's page builds keeps it."""

from __future__ import annotations

import asyncio
import gzip
import hashlib

import azure.functions as func

from shared.core.api import ApiCall, name_filter
from shared.http.board.access import NO_TENANT, Refusal, Viewer, viewer_of
from shared.http.board.cache import BoardPages, Page, Variant
from shared.http.board.forms import ACTION_ROUTE, action_response, done_notice, item_forms
from shared.http.board.incident_page import (
    INCIDENT_ACTION_ROUTE,
    incident_action_response,
    incident_response,
)
from shared.http.board.overview import overview_rows, render_overview
from shared.http.board.page import (
    BOARD_ROUTE,
    INCIDENT_ROUTE,
    ITEM_ROUTE,
    etag_matches,
    failure_page,
    html_response,
    link,
    page_response,
    refusal_page,
    takes_gzip,
)
from shared.http.board.render import render_board
from shared.http.board.scope import TENANT_PARAM, BoardTenant, board_tenant, page_viewer, visible
from shared.http.board.view import HEALTH_ORDER, read_item
from shared.http.serving import Resolve, api_call
from shared.settings import Settings
from shared.sources import SOURCE_NAMES
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore
from shared.tenants.models import Tenant
from shared.tenants.registry import every_tenant, scope_of

_HEALTHS = list(HEALTH_ORDER)

__all__ = [
    "ACTION_ROUTE",
    "BOARD_ROUTE",
    "INCIDENT_ACTION_ROUTE",
    "INCIDENT_ROUTE",
    "ITEM_ROUTE",
    "BoardPages",
    "action_response",
    "board_response",
    "incident_action_response",
    "incident_response",
    "item_response",
]


async def board_response(
    req: func.HttpRequest, resolve: Resolve, pages: BoardPages
) -> func.HttpResponse:
    """``GET /api/board?health=error&source=...``: the page of the current version of the
    data, from ``pages`` (rendered off the event loop, once per version); 304 when the
    browser's If-None-Match holds its ETag. With several tenants and no ``tenantId``: the
    overview of the tenants."""
    call = api_call(req)
    try:
        settings, store = resolve()
        viewer = viewer_of(call, settings)
        if isinstance(viewer, Refusal):
            return refusal_page(viewer)
        tenants: list[Tenant] = await pages.recent(store, lambda: every_tenant(settings, store))
        pages.keep_tenants(store, {scope_of(tenant) for tenant in tenants})
        asked = call.query.get(TENANT_PARAM)
        if asked is None and len(tenants) > 1:
            page = await _overview(pages, settings, store, viewer, tenants)
        else:
            chosen = await board_tenant(settings, store, viewer, asked, tenants)
            if isinstance(chosen, Refusal):
                return refusal_page(chosen)
            page = await _tenant_board(call, pages, store, viewer, chosen)
    except Exception as error:
        return failure_page(error)
    if isinstance(page, Refusal):
        return refusal_page(page)
    return await _page_answer(call, page)


async def _tenant_board(
    call: ApiCall, pages: BoardPages, store: StatusStore, viewer: Viewer, chosen: BoardTenant
) -> Page:
    """A tenant's board (the only tenant's: today's board), for the filters asked."""
    health = name_filter(call.query.get("health"), "health", _HEALTHS) or []
    # Only the sources polled: a link to one switched off since says so (400).
    enabled = list(chosen.settings.enabled_sources)
    sources = name_filter(call.query.get("source"), "source", enabled) or []
    variant = Variant(viewer.key, viewer.name, tuple(health), tuple(sources),
                      tenant_id=chosen.keep, tenant_name=chosen.name)  # fmt: skip
    return await pages.page(chosen.settings, store, variant, render_board, scope_of(chosen.tenant))


async def _overview(
    pages: BoardPages, settings: Settings, store: StatusStore, viewer: Viewer,
    tenants: list[Tenant],
) -> Page | Refusal:  # fmt: skip
    """The overview of the tenants the viewer may see, rendered for this request (in a
    worker thread) from each tenant's snapshot, gzipped, with an ETag of its bytes."""
    seen = visible(viewer, tenants)
    if not seen:
        return NO_TENANT
    rows = await overview_rows(pages, settings, store, viewer, seen)
    html = await asyncio.to_thread(render_overview, rows, viewer)
    etag = f'W/"{hashlib.sha256(html).hexdigest()[:32]}"'
    return Page(0, etag, await asyncio.to_thread(gzip.compress, html, 6))


async def item_response(req: func.HttpRequest, resolve: Resolve) -> func.HttpResponse:
    """``GET /api/board/item?tenantId=...&source=...&id=...``: an item's history and
    document (the home tenant's without ``tenantId``), rendered in a worker thread."""
    call = api_call(req)
    try:
        settings, store = resolve()
        asking = await page_viewer(call, settings, store)
        if isinstance(asking, Refusal):
            return refusal_page(asking)
        viewer, chosen = asking
        source = (name_filter(call.query.get("source"), "source", list(SOURCE_NAMES)) or [""])[0]
        item_id = validate_key(call.query.get("id", ""))
        item = await read_item(chosen.store, source, item_id) if source else None
        if item is None:
            return refusal_page(Refusal(404, "No such item", "The board has no item with that id."))
        forms = await item_forms(chosen, viewer, source, item_id, item.row.status)
    except Exception as error:
        return failure_page(error)
    key, keep = viewer.key, {TENANT_PARAM: chosen.keep}
    run_links = [link(ITEM_ROUTE, key, **keep, source=source, id=run.id) for run in item.runs]
    mine = item.incident
    incident_link = link(INCIDENT_ROUTE, key, **keep, id=mine.id) if mine else None
    compress = takes_gzip(call.header("accept-encoding"))
    return await asyncio.to_thread(
        html_response, "item.html", compress=compress, item=item,
        back=link(BOARD_ROUTE, key, **keep), run_links=run_links, reload_after=None,
        forms=forms, notice=done_notice(call.query.get("done")), tenant_name=chosen.name,
        incident_link=incident_link,
        overview_link=link(BOARD_ROUTE, key) if chosen.name else None,
    )  # fmt: skip


async def _page_answer(call: ApiCall, page: Page) -> func.HttpResponse:
    if etag_matches(call.header("if-none-match"), page.etag):
        return page_response(b"", 304, etag=page.etag)
    if takes_gzip(call.header("accept-encoding")):
        return page_response(page.gzipped, gzipped=True, etag=page.etag)
    # Kept compressed only (a tenth of the size); the few that do not take gzip pay for it.
    return page_response(await asyncio.to_thread(gzip.decompress, page.gzipped), etag=page.etag)
