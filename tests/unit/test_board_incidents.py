"""What the board says of incidents and maintenance windows, with no storage: an incident's
state and age in words, the order they are listed in, the window an item is in maintenance
under, the version the page cache checks (an acknowledgement or a window changes it), and
the incidents' section rendered with foreign text isolated."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.incidents import OPEN_ENDED, Incident, IncidentEntry, MaintenanceWindow
from shared.core.time import graph_timestamp
from shared.http.board.cache import Asked, Variant, version_of
from shared.http.board.incident_rows import (
    Marks,
    incident_rows,
    maintenance_of,
    state_words,
)
from shared.http.board.render import render_board
from shared.http.board.view import Snapshot

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SDS = "educationSynchronizationProfiles"
RLO = "\u202e"


def at(**ago: float) -> str:
    return graph_timestamp(NOW - timedelta(**ago))


def incident(item: str = "a", **changes: Any) -> Incident:
    values: dict[str, Any] = {
        "id": f"i-{item}", "source": SDS, "itemId": item, "displayName": f"School {item}",
        "path": "/x", "state": "open", "health": "error", "currentHealth": "error",
        "reason": "Bad CSV", "sinceDateTime": at(hours=2), "openedDateTime": at(hours=2),
        "updatedDateTime": at(hours=2),
        "timeline": [IncidentEntry(at=at(hours=2), kind="opened")],
    } | changes  # fmt: skip
    return Incident(**values)


def window(**changes: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {
        "id": "w", "source": SDS, "itemId": "a", "startDateTime": at(hours=1),
        "endDateTime": graph_timestamp(NOW + timedelta(hours=3)), "reason": "New SIS",
        "createdBy": "Ada", "createdDateTime": at(hours=1),
    } | changes  # fmt: skip
    return MaintenanceWindow(**values)


def test_an_incidents_state_is_said_with_who_and_until_when() -> None:
    assert state_words(incident(), NOW) == "open"
    acked = incident(state="acknowledged", acknowledgedBy="Ada")
    assert state_words(acked, NOW) == "acknowledged by Ada"
    snoozed = incident(snoozedUntil=graph_timestamp(NOW + timedelta(hours=2)))
    assert state_words(snoozed, NOW) == "open, snoozed until 14:00 UTC"
    assert state_words(incident(snoozedUntil=at(minutes=1)), NOW) == "open"  # over
    resolved = incident(state="resolved", resolvedBy="Ada", resolvedDateTime=at(minutes=3))
    assert state_words(resolved, NOW) == "resolved by Ada at 11:57 UTC, 3 min ago"
    recovered = incident(state="resolved", resolvedDateTime=at(days=2))
    assert (
        state_words(recovered, NOW) == "resolved (the item recovered) at Jan 3, 12:00 UTC, 2 d ago"
    )


def test_incidents_are_listed_open_first_errors_first_oldest_first_and_aged_in_words() -> None:
    rows = incident_rows(
        [
            incident("acked", state="acknowledged", sinceDateTime=at(days=3)),
            incident("warn", health="warning", currentHealth="warning", sinceDateTime=at(days=2)),
            incident("new", sinceDateTime=at(minutes=5)),
            incident("old", sinceDateTime=at(hours=3, minutes=12)),
            incident("done", state="resolved"),
        ],
        NOW,
    )
    assert [row.item_id for row in rows] == ["old", "new", "warn", "acked"]
    assert rows[0].since_words == "since 08:48 UTC, 3 h 12 min ago"
    assert rows[0].title == "Error on School old" and rows[0].source_title
    assert incident_rows([incident(displayName=None)], NOW)[0].name == "a"  # its itemId


def test_an_item_is_in_maintenance_under_a_window_under_way_that_covers_it() -> None:
    under = maintenance_of([window()], SDS, "a", NOW)
    assert under is not None and (under.reason, under.until) == ("New SIS", "until 15:00 UTC")
    assert maintenance_of([window()], SDS, "b", NOW) is None  # another item
    assert maintenance_of([window(startDateTime=at(hours=-1))], SDS, "a", NOW) is None  # to come
    every = maintenance_of([window(source=None, itemId=None, endDateTime=OPEN_ENDED)], SDS, "z",
                           NOW)  # fmt: skip
    assert every is not None and every.until == "until ended by hand"


def version(marks: Marks) -> str:
    return version_of(Asked([], [], marks), NOW)


def test_the_version_changes_with_an_incidents_etag_and_a_windows_start() -> None:
    one = incident()
    base = version(Marks((one,), (), graph_timestamp(NOW), (("i-a", "etag-1"),)))
    assert base == version(Marks((one,), (), graph_timestamp(NOW), (("i-a", "etag-1"),)))
    assert base != version(Marks((one,), (), graph_timestamp(NOW), (("i-a", "etag-2"),)))
    assert base != version(Marks((), (), graph_timestamp(NOW), ()))  # resolved: gone
    coming = window(startDateTime=graph_timestamp(NOW + timedelta(minutes=1)))
    before = version(Marks((), (coming,), graph_timestamp(NOW)))
    begun = version(Marks((), (coming,), graph_timestamp(NOW + timedelta(minutes=2))))
    assert before != begun and before != version(Marks((), (), graph_timestamp(NOW)))


def test_the_incidents_section_comes_first_with_its_foreign_text_isolated() -> None:
    hostile = f"x{RLO}y\x00z"
    rows = incident_rows(
        [incident(displayName=hostile, reason=hostile, state="acknowledged",
                  acknowledgedBy=hostile)],
        NOW,
    )  # fmt: skip
    snapshot = Snapshot({"status": "healthy", "sources": []}, [], {}, 300, NOW, rows)
    page = render_board(snapshot, Variant(key="k", name=None)).decode()
    assert page.index('<section class="incidents"') < page.index("<h2>Items</h2>")
    assert re.findall(r'<tr data-incident="([^"]+)" data-state="(\w+)">', page) == [
        ("i-a", "acknowledged")
    ]
    assert page.count(f"<bdi>x{RLO}yz</bdi>") == 2  # the name and the reason
    assert f"<bdi>acknowledged by x{RLO}yz</bdi>" in page
    assert '<a href="/api/board/incident?id=i-a&amp;code=k">' in page
    outside = re.sub(r"<bdi>[^<]*</bdi>", "", page)
    assert RLO not in outside and "\x00" not in page
    empty = Snapshot({"status": "healthy", "sources": []}, [], {}, 300, NOW)
    assert (
        "None: no item has an incident open." in render_board(empty, Variant(None, None)).decode()
    )
