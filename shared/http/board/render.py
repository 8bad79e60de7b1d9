"""The board's page of one snapshot and variant (its viewer and filters), as HTML: what
``cache.BoardPages`` renders in a worker thread, once per version of the data.

A board of more than FOLD_HEALTHY_OVER healthy items lists what is not healthy and folds the
healthy ones into one line, a link to their own filter: 2,000 rows are 2 MB of HTML, a lot
for a phone to lay out, and the healthy ones are the least looked at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.core.health import Health
from shared.http.board.access import Viewer
from shared.http.board.cache import Variant
from shared.http.board.page import (
    BOARD_ROUTE,
    INCIDENT_ROUTE,
    ITEM_ROUTE,
    link,
    now_text,
    render,
)
from shared.http.board.rows import when
from shared.http.board.view import HEALTH_ORDER, Board, Snapshot, board_of
from shared.sources import SOURCES

FOLD_HEALTHY_OVER = 100
_HEALTHY = str(Health.HEALTHY)
_RANK = {health: rank for rank, health in enumerate(HEALTH_ORDER)}
_TITLES = {source.name: source.title for source in SOURCES}
_PROBLEMS = {
    "degraded": "polled in part",
    "unavailable": "cannot be polled",
    "stale": "has no recent poll",
    "notPolledYet": "not polled yet",
}


def render_board(snapshot: Snapshot, variant: Variant) -> bytes:
    """``board.html`` for this viewer, filters and tenant, cut from the snapshot."""
    health, sources = list(variant.health), list(variant.sources)
    board = board_of(snapshot, health, sources)
    healthy = sum(1 for row in board.rows if row.health == _HEALTHY) if not health else 0
    folded = healthy if healthy > FOLD_HEALTHY_OVER else 0
    if folded:
        board = replace(board, rows=[row for row in board.rows if row.health != _HEALTHY])
    viewer = Viewer(key=variant.key, name=variant.name)
    context = board_context(
        viewer, board, health, sources,
        tenant_id=variant.tenant_id, tenant_name=variant.tenant_name,
    )  # fmt: skip
    context["folded"] = folded
    context["folded_link"] = link(
        BOARD_ROUTE, viewer.key, tenantId=variant.tenant_id, health=_HEALTHY,
        source=",".join(sources) or None,
    )  # fmt: skip
    return render("board.html", **context)


def attention(board: Board) -> dict[str, Any]:
    """The header's two questions apart: how many syncs need attention (errors, warnings),
    and whether polling works; and each source's worst item."""
    counts = board.counts
    needing = counts.get("error", 0) + counts.get("warning", 0)
    parts = [
        f"{counts[name]} {'error' if name == 'error' else 'warning'}{'s' * (counts[name] != 1)}"
        for name in ("error", "warning")
        if counts.get(name)
    ]
    worst_of: dict[str, str] = {}
    for row in board.all_rows:
        kept = worst_of.get(row.source)
        if kept is None or _RANK.get(row.health, 2) < _RANK.get(kept, 2):
            worst_of[row.source] = row.health
    return {
        "needing": needing,
        "total": sum(counts.values()),
        "needing_parts": ", ".join(parts),
        "polling": polling_words(board.report, board.now),
        "worst_of": worst_of,
    }


def polling_words(report: dict[str, Any], now: datetime) -> tuple[bool, str]:
    """Whether polling works, and in words: ``Polling OK, last poll 2 min ago``, or what
    is wrong (the sources whose polls fail or stopped coming)."""
    sources = report.get("sources") or []
    finished = [
        s["lastPoll"].get("finishedDateTime")
        for s in sources
        if s.get("lastPoll") and s["lastPoll"].get("finishedDateTime")
    ]
    last = when(max(finished), now, "last poll at") if finished else None
    if report.get("storage") == "unavailable":
        return False, "Polling: storage is unavailable"
    if report.get("configurationError"):
        return False, "Polling: the app is not configured"
    if report.get("status") == "healthy":
        return True, "Polling OK" + (f", {last}" if last else "")
    wrong = [
        f"{_TITLES.get(s['source'], s['source'])} {_PROBLEMS.get(s['status'], s['status'])}"
        for s in sources
        if s.get("status") not in ("healthy", "retired")
    ]
    text = "Polling has problems: " + ("; ".join(wrong) or str(report.get("status")))
    return False, text + (f" ({last})" if last else "")


def board_context(
    viewer: Viewer, board: Board, health: list[str], sources: list[str], *,
    tenant_id: str | None = None, tenant_name: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What ``board.html`` shows; every link keeps the key and ``tenant_id`` (the tenant's
    name, when given, is in the title and header, beside a link to the overview)."""
    key = viewer.key

    def to(route: str, **query: str | None) -> str:
        return link(route, key, tenantId=tenant_id, **query)

    joined_sources = ",".join(sources) or None
    joined_health = ",".join(health) or None
    health_links = [
        {"label": "all", "href": to(BOARD_ROUTE, source=joined_sources), "current": not health}
    ] + [
        {
            "label": f"{name} ({board.counts.get(name, 0)})",
            "href": to(BOARD_ROUTE, health=name, source=joined_sources),
            "current": health == [name],
        }
        for name in HEALTH_ORDER
    ]
    source_links = [
        {"label": "all", "href": to(BOARD_ROUTE, health=joined_health), "current": not sources}
    ] + [
        {
            "label": board.titles.get(name, name),
            "href": to(BOARD_ROUTE, health=joined_health, source=name),
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
        **attention(board),
        "board": board,
        "viewer": viewer,
        "now": now_text(board.now),
        "overall_class": overall,
        "worst": worst,
        "banners": banners,
        "health_links": health_links,
        "source_links": source_links,
        "refresh_link": to(BOARD_ROUTE, health=joined_health, source=joined_sources),
        "filtered": bool(health or sources),
        "reload_after": board.reload_after,
        "row_links": [to(ITEM_ROUTE, source=row.source, id=row.id) for row in board.rows],
        "incident_links": incident_links(board, to),
        # The JSON needs a key: offered to key holders only, with the page's filters.
        "json_link": to("statuses", health=joined_health, source=joined_sources) if key else None,
        "tenant_name": tenant_name,
        "overview_link": link(BOARD_ROUTE, key) if tenant_name else None,
    }


def incident_links(board: Board, to: Callable[..., str]) -> list[tuple[str, str]]:
    """The incidents not resolved, listed first: each its page's link and its item's."""
    return [
        (to(INCIDENT_ROUTE, id=row.id), to(ITEM_ROUTE, source=row.source, id=row.item_id))
        for row in board.incidents
    ]
