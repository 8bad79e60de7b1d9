"""The status board: every monitored item on one page, worst first, with its last 30 days,
and an item's detail page; HTML rendered by the app from the cache alone (``GET /api/board``,
``GET /api/board/item``). See ``access`` for who may see it and ``page`` for how it is served.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared.core.api import ApiCall, name_filter
from shared.core.errors import DomainError, SettingsError, StorageUnavailableError
from shared.http.board.access import Refusal, Viewer, viewer_of
from shared.http.board.page import (
    BOARD_ROUTE,
    ITEM_ROUTE,
    html_response,
    link,
    now_text,
    takes_gzip,
)
from shared.http.board.view import HEALTH_ORDER, Board, read_board, read_item
from shared.http.serving import Resolve, api_call
from shared.sources import SOURCE_NAMES
from shared.storage.keys import validate_key

logger = logging.getLogger(__name__)

_HEALTHS = list(HEALTH_ORDER)

__all__ = ["BOARD_ROUTE", "ITEM_ROUTE", "board_response", "item_response"]


async def board_response(req: func.HttpRequest, resolve: Resolve) -> func.HttpResponse:
    """``GET /api/board?health=error&source=...``."""
    call = api_call(req)
    try:
        settings, store = resolve()
        viewer = viewer_of(call, settings)
        if isinstance(viewer, Refusal):
            return _refused(viewer)
        health = name_filter(call.query.get("health"), "health", _HEALTHS) or []
        # Only the sources polled: a link to one switched off since says so (400).
        enabled = list(settings.enabled_sources)
        sources = name_filter(call.query.get("source"), "source", enabled) or []
        board = await read_board(settings, store, health, sources)
    except Exception as error:
        return _failure(error)
    context = _board_context(call, viewer, board, health, sources)
    return html_response(
        "board.html", compress=takes_gzip(call.header("accept-encoding")), **context
    )


async def item_response(req: func.HttpRequest, resolve: Resolve) -> func.HttpResponse:
    """``GET /api/board/item?source=...&id=...``: an item's history and document."""
    call = api_call(req)
    try:
        settings, store = resolve()
        viewer = viewer_of(call, settings)
        if isinstance(viewer, Refusal):
            return _refused(viewer)
        source = (name_filter(call.query.get("source"), "source", list(SOURCE_NAMES)) or [""])[0]
        item_id = validate_key(call.query.get("id", ""))
        item = await read_item(store, source, item_id) if source else None
    except Exception as error:
        return _failure(error)
    if item is None:
        return _refused(Refusal(404, "No such item", "The board has no item with that id."))
    back = link(BOARD_ROUTE, viewer.key)
    compress = takes_gzip(call.header("accept-encoding"))
    return html_response("item.html", compress=compress, item=item, back=back, reload_after=None)


def _board_context(
    call: ApiCall, viewer: Viewer, board: Board, health: list[str], sources: list[str]
) -> dict[str, Any]:
    key = viewer.key
    joined_sources = ",".join(sources) or None
    joined_health = ",".join(health) or None
    health_links = [
        {
            "label": "all",
            "href": link(BOARD_ROUTE, key, source=joined_sources),
            "current": not health,
        }
    ] + [
        {
            "label": f"{name} ({board.counts.get(name, 0)})",
            "href": link(BOARD_ROUTE, key, health=name, source=joined_sources),
            "current": health == [name],
        }
        for name in _HEALTHS
    ]
    source_links = [
        {
            "label": "all",
            "href": link(BOARD_ROUTE, key, health=joined_health),
            "current": not sources,
        }
    ] + [
        {
            "label": board.titles.get(name, name),
            "href": link(BOARD_ROUTE, key, health=joined_health, source=name),
            "current": sources == [name],
        }
        for name in (s["source"] for s in board.report.get("sources", []))
    ]
    banners = [
        s for s in board.report.get("sources", [])
        if s["status"] in ("unavailable", "stale", "retired", "notPolledYet")
    ]  # fmt: skip
    overall = {"healthy": "healthy", "degraded": "warning"}.get(board.report["status"], "error")
    worst = next((row.health for row in board.rows), None)
    return {
        "board": board,
        "viewer": viewer,
        "now": now_text(),
        "overall_class": overall,
        "worst": worst,
        "banners": banners,
        "health_links": health_links,
        "source_links": source_links,
        "refresh_link": link(BOARD_ROUTE, key, health=joined_health, source=joined_sources),
        "filtered": bool(health or sources),
        "reload_after": board.reload_after,
        "row_links": [link(ITEM_ROUTE, key, source=row.source, id=row.id) for row in board.rows],
        # The JSON needs a key: offered to key holders only, with the page's filters.
        "json_link": link("statuses", key, health=joined_health, source=joined_sources)
        if key
        else None,
    }


def _failure(error: Exception) -> func.HttpResponse:
    """A failure as an HTML page: bad input 400, not configured or storage down 503 (with
    Retry-After), anything else logged and answered 500 without its trace."""
    if isinstance(error, SettingsError):
        refusal = Refusal(503, "The app is not configured", error.message)
    elif isinstance(error, StorageUnavailableError):
        refusal = Refusal(
            503, "Storage is unavailable", "Table Storage did not answer; try again soon."
        )
    elif isinstance(error, DomainError):
        refusal = Refusal(400, "That request cannot be shown", error.message)
    else:
        logger.error("Unhandled error on the board", exc_info=error)
        refusal = Refusal(
            500, "Something went wrong", "An unexpected error occurred; it was logged."
        )
    return _refused(refusal)


def _refused(refusal: Refusal) -> func.HttpResponse:
    return html_response("denied.html", refusal.status, refusal=refusal)
