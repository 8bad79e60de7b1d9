"""The board's page of one snapshot and variant (its viewer and filters), as HTML: what
``cache.BoardPages`` renders in a worker thread, once per version of the data.

A board of more than FOLD_HEALTHY_OVER healthy items lists what is not healthy and folds the
healthy ones into one line, a link to their own filter: 2,000 rows are 2 MB of HTML, a lot
for a phone to lay out, and the healthy ones are the least looked at."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.core.health import Health
from shared.http.board.access import Viewer
from shared.http.board.cache import Variant
from shared.http.board.page import BOARD_ROUTE, ITEM_ROUTE, link, now_text, render
from shared.http.board.view import HEALTH_ORDER, Board, Snapshot, board_of

FOLD_HEALTHY_OVER = 100
_HEALTHY = str(Health.HEALTHY)


def render_board(snapshot: Snapshot, variant: Variant) -> bytes:
    """``board.html`` for this viewer and filters, cut from the snapshot."""
    health, sources = list(variant.health), list(variant.sources)
    board = board_of(snapshot, health, sources)
    healthy = sum(1 for row in board.rows if row.health == _HEALTHY) if not health else 0
    folded = healthy if healthy > FOLD_HEALTHY_OVER else 0
    if folded:
        board = replace(board, rows=[row for row in board.rows if row.health != _HEALTHY])
    viewer = Viewer(key=variant.key, name=variant.name)
    context = board_context(viewer, board, health, sources)
    context["folded"] = folded
    context["folded_link"] = link(
        BOARD_ROUTE, viewer.key, health=_HEALTHY, source=",".join(sources) or None
    )
    return render("board.html", **context)


def board_context(
    viewer: Viewer, board: Board, health: list[str], sources: list[str]
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
        for name in HEALTH_ORDER
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
        "now": now_text(board.now),
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
