"""The status board: every monitored item on one page, worst first, with its last 30 days,
and an item's detail page; HTML rendered by the app from the cache alone (``GET /api/board``,
``GET /api/board/item``). See ``access`` for who may see it and ``page`` for how it is served.
"""

from __future__ import annotations

import asyncio
import gzip

import azure.functions as func

from shared.core.api import ApiCall, name_filter
from shared.http.board.access import Refusal, viewer_of
from shared.http.board.cache import BoardPages, Page, Variant
from shared.http.board.forms import ACTION_ROUTE, action_response, done_notice, item_forms
from shared.http.board.page import (
    BOARD_ROUTE,
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
from shared.http.board.view import HEALTH_ORDER, read_item
from shared.http.serving import Resolve, api_call
from shared.sources import SOURCE_NAMES
from shared.storage.keys import validate_key

_HEALTHS = list(HEALTH_ORDER)

__all__ = [
    "ACTION_ROUTE",
    "BOARD_ROUTE",
    "ITEM_ROUTE",
    "BoardPages",
    "action_response",
    "board_response",
    "item_response",
]


async def board_response(
    req: func.HttpRequest, resolve: Resolve, pages: BoardPages
) -> func.HttpResponse:
    """``GET /api/board?health=error&source=...``: the page of the current version of the
    data, from ``pages`` (rendered off the event loop, once per version); 304 when the
    browser's If-None-Match holds its ETag."""
    call = api_call(req)
    try:
        settings, store = resolve()
        viewer = viewer_of(call, settings)
        if isinstance(viewer, Refusal):
            return refusal_page(viewer)
        health = name_filter(call.query.get("health"), "health", _HEALTHS) or []
        # Only the sources polled: a link to one switched off since says so (400).
        enabled = list(settings.enabled_sources)
        sources = name_filter(call.query.get("source"), "source", enabled) or []
        variant = Variant(viewer.key, viewer.name, tuple(health), tuple(sources))
        page = await pages.page(settings, store, variant, render_board)
    except Exception as error:
        return failure_page(error)
    return await _page_answer(call, page)


async def item_response(req: func.HttpRequest, resolve: Resolve) -> func.HttpResponse:
    """``GET /api/board/item?source=...&id=...``: an item's history and document, rendered
    in a worker thread."""
    call = api_call(req)
    try:
        settings, store = resolve()
        viewer = viewer_of(call, settings)
        if isinstance(viewer, Refusal):
            return refusal_page(viewer)
        source = (name_filter(call.query.get("source"), "source", list(SOURCE_NAMES)) or [""])[0]
        item_id = validate_key(call.query.get("id", ""))
        item = await read_item(store, source, item_id) if source else None
        if item is None:
            return refusal_page(Refusal(404, "No such item", "The board has no item with that id."))
        forms = await item_forms(settings, store, viewer, source, item_id, item.row.status)
    except Exception as error:
        return failure_page(error)
    back = link(BOARD_ROUTE, viewer.key)
    run_links = [link(ITEM_ROUTE, viewer.key, source=source, id=run.id) for run in item.runs]
    compress = takes_gzip(call.header("accept-encoding"))
    return await asyncio.to_thread(
        html_response, "item.html", compress=compress, item=item, back=back,
        run_links=run_links, reload_after=None, forms=forms,
        notice=done_notice(call.query.get("done")),
    )  # fmt: skip


async def _page_answer(call: ApiCall, page: Page) -> func.HttpResponse:
    if etag_matches(call.header("if-none-match"), page.etag):
        return page_response(b"", 304, etag=page.etag)
    if takes_gzip(call.header("accept-encoding")):
        return page_response(page.gzipped, gzipped=True, etag=page.etag)
    # Kept compressed only (a tenth of the size); the few that do not take gzip pay for it.
    return page_response(await asyncio.to_thread(gzip.decompress, page.gzipped), etag=page.etag)
