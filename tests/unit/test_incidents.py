"""The incident decision (``core.incidents.review_item``) over simulated polls: an item's
health poll after poll, its ``healthSince`` kept as the cache keeps it (it moves only when
the health changes), and the notices that come of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.core.incidents import Incident, IncidentRules, ItemView, incident_id, review_item
from shared.core.time import graph_timestamp

RULES = IncidentRules(
    open_after_error_minutes=0, open_after_warning_minutes=15,
    resolve_after_minutes=10, remind_every_hours=24,
)  # fmt: skip
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
POLL = timedelta(minutes=5)


@dataclass
class Watched:
    """One item polled every five minutes, and what the reviews made of it."""

    rules: IncidentRules = RULES
    now: datetime = START
    health: str | None = None
    since: str = ""
    incident: Incident | None = None
    incidents: set[str] = field(default_factory=set)
    notices: list[str] = field(default_factory=list)

    def poll(self, health: str | None, *, muted: bool = False, polls: int = 1) -> None:
        for _ in range(polls):
            if health != self.health:
                self.health, self.since = health, graph_timestamp(self.now)
            item = None if health is None else ItemView(
                source="educationSynchronizationProfiles", item_id="p1", health=health,
                health_since=self.since, reason=f"It is {health}.", display_name="School",
                path="/api/x/p1",
            )  # fmt: skip
            decision = review_item(
                item, self.incident, tenant_id=None, now=graph_timestamp(self.now),
                rules=self.rules, muted=muted,
            )  # fmt: skip
            if decision.incident is not None:
                written = decision.incident
                self.incident = None if written.state == "resolved" else written
                self.incidents.add(written.id)
            if decision.notice is not None:
                self.notices.append(decision.notice)
            self.now += POLL


def test_a_job_flapping_every_poll_makes_one_incident_opened_and_resolved_once() -> None:
    watched = Watched()
    for _ in range(50):  # four hours of error, healthy, error, healthy...
        watched.poll("error")
        watched.poll("healthy")
    assert watched.incident is not None and watched.incident.state == "open"
    watched.poll("healthy", polls=3)  # healthy 10 minutes and more: over
    assert watched.notices == ["opened", "resolved"]
    assert len(watched.incidents) == 1


def test_a_warning_opens_only_once_it_has_held_its_pending_time() -> None:
    watched = Watched()
    for _ in range(20):  # a warning that never lasts 15 minutes: no incident
        watched.poll("warning", polls=2)
        watched.poll("healthy")
    assert watched.notices == [] and not watched.incidents
    watched.poll("warning", polls=4)  # 0, 5, 10, 15 minutes
    assert watched.notices == ["opened"]


def test_a_condition_that_changes_updates_the_incident_not_another() -> None:
    watched = Watched()
    watched.poll("warning", polls=4)
    watched.poll("error", polls=2)
    assert watched.notices == ["opened"] and len(watched.incidents) == 1
    assert watched.incident is not None
    assert (watched.incident.health, watched.incident.currentHealth) == ("error", "error")
    assert [entry.kind for entry in watched.incident.timeline] == ["opened", "updated"]


def test_reminders_while_open_and_not_acknowledged_none_once_snoozed_or_acknowledged() -> None:
    watched = Watched()
    watched.poll("error", polls=12 * 24 * 2 + 1)  # two days
    assert watched.notices == ["opened", "reminder", "reminder"]
    assert watched.incident is not None
    until = graph_timestamp(watched.now + timedelta(hours=30))
    watched.incident = watched.incident.model_copy(update={"snoozedUntil": until})
    watched.poll("error", polls=12 * 29)
    assert watched.notices.count("reminder") == 2  # none while snoozed
    watched.incident = watched.incident.model_copy(update={"state": "acknowledged"})
    watched.poll("error", polls=12 * 48)
    assert watched.notices.count("reminder") == 2  # someone is on it
    watched.poll("healthy", polls=3)
    assert watched.notices[-1] == "resolved"


def test_in_maintenance_nothing_notifies_and_what_is_still_broken_after_is_announced() -> None:
    watched = Watched()
    watched.poll("error", muted=True, polls=12 * 30)  # 30 hours in a maintenance window
    assert watched.notices == [] and watched.incident is not None
    watched.poll("error")  # the window is over, the job still broken
    assert watched.notices == ["opened"]


def test_a_problem_that_ends_in_maintenance_ends_quietly() -> None:
    watched = Watched()
    watched.poll("error", muted=True, polls=3)
    watched.poll("healthy", muted=True, polls=3)
    assert watched.notices == [] and watched.incident is None and len(watched.incidents) == 1


def test_an_item_gone_resolves_its_incident() -> None:
    watched = Watched()
    watched.poll("error")
    watched.poll(None)
    assert watched.notices == ["opened", "resolved"] and watched.incident is None


def test_the_same_problem_has_the_same_id_another_problem_another() -> None:
    one = incident_id("t", "s", "p1", "2026-12-01T08:00:00Z")
    assert one == incident_id("t", "s", "p1", "2026-12-01T08:00:00Z")
    assert one != incident_id("t", "s", "p1", "2026-12-02T08:00:00Z")
    assert one != incident_id("u", "s", "p1", "2026-12-01T08:00:00Z")
