"""What delivery POSTs for a target's waiting events (``delivery.messages_of``): one message
per event, except that with grouping the notices of one review, one after another, go as
one group (a group of one is the notice itself); order is kept."""

from __future__ import annotations

from typing import Any

from shared.core.changes import ChangeEvent
from shared.core.incidents import Incident, IncidentEvent, IncidentGroupEvent
from shared.webhooks.delivery import messages_of

INCIDENT = Incident(
    id="i-1", source="provisioningJobs", itemId="sp/job", path="/api/statuses/x", state="open",
    health="error", currentHealth="error", sinceDateTime="2026-01-05T09:00:00Z",
    openedDateTime="2026-01-05T10:00:00Z", updatedDateTime="2026-01-05T10:00:00Z",
)  # fmt: skip


def notice(event_id: str, review: str | None) -> tuple[IncidentEvent, dict[str, Any]]:
    event = IncidentEvent(eventId=event_id, event="opened", incident=INCIDENT,
                          changedDateTime="2026-01-05T10:00:00Z", reviewId=review)  # fmt: skip
    return event, {"RowKey": event_id}


def change(event_id: str) -> tuple[ChangeEvent, dict[str, Any]]:
    event = ChangeEvent(source="provisioningJobs", id="sp/job", status="Active", health="healthy",
                        previousStatus=None, previousHealth=None,
                        changedDateTime="2026-01-05T10:00:00Z", eventId=event_id,
                        path="/api/statuses/x")  # fmt: skip
    return event, {"RowKey": event_id}


def shape(messages: list[tuple[Any, list[dict[str, Any]]]]) -> list[tuple[str, list[str]]]:
    return [(message.kind, [entity["RowKey"] for entity in rows]) for message, rows in messages]


WAITING = [
    change("c1"), notice("n1", "r1"), notice("n2", "r1"), notice("n3", "r2"),
    notice("n4", None), notice("n5", None), notice("n6", "r3"), change("c2"), notice("n7", "r3"),
]  # fmt: skip


def test_with_grouping_a_reviews_notices_in_a_row_are_one_message() -> None:
    messages = messages_of(WAITING, grouping=True)  # type: ignore[arg-type]
    assert shape(messages) == [
        ("change", ["c1"]), ("incidentGroup", ["n1", "n2"]), ("incident", ["n3"]),
        ("incident", ["n4"]), ("incident", ["n5"]), ("incident", ["n6"]), ("change", ["c2"]),
        ("incident", ["n7"]),
    ]  # fmt: skip
    group = messages[1][0]
    assert isinstance(group, IncidentGroupEvent)
    assert [n.eventId for n in group.notices] == ["n1", "n2"]
    assert group.reviewId == "r1"
    again = messages_of(WAITING, grouping=True)[1][0]  # type: ignore[arg-type]
    assert again.eventId == group.eventId  # a retry of the same group is the same event


def test_without_grouping_every_event_is_its_own_message() -> None:
    assert shape(messages_of(WAITING, grouping=False)) == [  # type: ignore[arg-type]
        (event.kind, [entity["RowKey"]]) for event, entity in WAITING
    ]
