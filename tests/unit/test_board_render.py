"""The board's page rendered from rows made here (no storage): every string from Graph or a
caller isolated and cleaned, and a big board's healthy items folded behind a link."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shared.http.board.cache import Variant
from shared.http.board.render import FOLD_HEALTHY_OVER, render_board
from shared.http.board.view import Row, Snapshot

RLO = "\u202e"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ROWS = re.compile(r'<tr data-health="(\w+)">')


def snapshot_of(rows: list[Row]) -> Snapshot:
    return Snapshot({"status": "healthy", "sources": []}, rows, {}, 300, datetime.now(UTC))


def row(health: str = "error", **changes: str | None) -> Row:
    values: dict[str, str | None] = {
        "display_name": "Plain", "status": "ok", "reason": "Fine.", "kind": None,
        "poll_error": None,
    } | changes  # fmt: skip
    return Row(
        source="educationSynchronizationProfiles", source_title="School Data Sync",
        kind=values["kind"], id="id-1", display_name=values["display_name"] or "",
        status=values["status"], health=health, since=None, since_words=None,
        reason=values["reason"], poll_error=values["poll_error"],
    )  # fmt: skip


def test_every_foreign_string_on_a_board_row_is_isolated() -> None:
    hostile = f"x{RLO}y\x00z"
    rows = [
        row(display_name=hostile, status=hostile, reason=hostile, kind=hostile,
            poll_error=hostile),
    ]  # fmt: skip
    page = render_board(snapshot_of(rows), Variant(key=None, name=f"Ada{RLO}\x00"))
    html = page.decode()
    assert html.count(f"<bdi>x{RLO}yz</bdi>") == 5
    assert f'<span class="isolate">signed in as Ada{RLO}</span>' in html
    outside = re.sub(r"<bdi>[^<]*</bdi>|<span class=\"isolate\">[^<]*</span>", "", html)
    assert RLO not in outside and not CONTROLS.search(html)


def test_a_big_boards_healthy_items_are_folded_behind_their_filter() -> None:
    healthy = [row("healthy", display_name=f"fine {i}") for i in range(FOLD_HEALTHY_OVER + 1)]
    snapshot = snapshot_of([row("error", display_name="broken"), *healthy])
    page = render_board(snapshot, Variant(key="k", name=None)).decode()
    assert ROWS.findall(page) == ["error"]
    assert f'<a href="/api/board?health=healthy&amp;code=k">Show the {len(healthy)} healthy' in page
    shown = render_board(snapshot, Variant(key="k", name=None, health=("healthy",))).decode()
    assert ROWS.findall(shown) == ["healthy"] * len(healthy) and "Show the" not in shown
    small = snapshot_of([row("error"), *healthy[:FOLD_HEALTHY_OVER]])
    assert ROWS.findall(render_board(small, Variant(None, None)).decode()).count("healthy") == (
        FOLD_HEALTHY_OVER
    )
