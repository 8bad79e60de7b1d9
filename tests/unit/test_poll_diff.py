"""The poll's decisions, without storage or Graph: what a poll writes for what it saw, the
change each write carries, and what is left to record once the writes are in
(shared/polling/diff.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from shared.core.changes import PendingChange, event_id
from shared.core.health import Health
from shared.graph.errors import GraphError
from shared.polling import diff
from shared.polling.diff import PollPlan, PollStamp
from shared.sources import source_named
from shared.sources.base import Observation, Source
from shared.sources.school_data_sync.cached import CachedProfile
from shared.storage.items import CacheWrite, StoredItem
from shared.storage.pending import pending_of, put_pending
from shared.storage.poll_runs import PollRun
from shared.storage.recording import JournalEntry
from shared.storage.statuses import WriteOutcome
from tests.support.samples import profile_entry

SDS = source_named("educationSynchronizationProfiles")
JOBS = source_named("synchronizationJobs")
RUNS = source_named("industryDataRuns")
EARLIER = "2026-11-22T05:00:00.0000000Z"
NOW = "2026-11-22T05:05:00.0000000Z"
DECIDED = "2026-11-22T05:05:01.0000000Z"
STAMP = PollStamp(started=NOW, decided=DECIDED)


class Cached(dict[str, Any]):
    """An entity as read from Table Storage: its columns and the ETag it was read with."""

    def __init__(self, entity: dict[str, Any], etag: str = 'W/"1"') -> None:
        super().__init__(entity)
        self.metadata = {"etag": etag}


def plan_writes(
    source: Source,
    observation: Observation,
    current: Mapping[str, Cached],
    previous: PollRun | None,
    stamp: PollStamp,
) -> PollPlan:
    """The diff's plan for what the cache holds (``current``: its entities as read)."""
    items = {item_id: StoredItem(entity) for item_id, entity in current.items()}
    return diff.plan_writes(source, observation, items, previous, stamp)


def journal_after(
    current: Mapping[str, Cached], writes: list[CacheWrite], outcome: WriteOutcome
) -> list[JournalEntry]:
    items = {item_id: StoredItem(entity) for item_id, entity in current.items()}
    return diff.journal_after(items, writes, outcome)


def is_removed(entity: dict[str, Any]) -> bool:
    return StoredItem(entity).removed


def cached(entry: CachedProfile, **columns: Any) -> Cached:
    """What the cache holds after an earlier poll wrote ``entry``."""
    entry.health_since = entry.last_checked_date_time = EARLIER
    return Cached(entry.record().columns() | columns)


def seen(*entries: CachedProfile, complete: bool = True, **failures: str) -> Observation:
    observation = Observation(entries={entry.id: entry for entry in entries}, failures=failures)
    listed = {entry.id for entry in entries} | set(failures)
    if complete:
        observation.removable = lambda item_id: item_id not in listed
    return observation


def carried(write: CacheWrite) -> list[tuple[Any, ...]]:
    """The changes a write carries: (previous status, status, health, time, notify)."""
    return [
        (p.change.previousStatus, p.change.status, p.change.health, p.change.changedDateTime,
         p.notify)
        for p in pending_of(write.entity)
    ]  # fmt: skip


def test_a_new_item_is_created_with_its_change() -> None:
    plan = plan_writes(SDS, seen(profile_entry("p1")), {}, None, STAMP)
    (write,) = plan.writes
    assert plan.complete
    assert (write.kind, write.etag) == ("create", None)
    assert (write.entity["healthSince"], write.entity["lastCheckedDateTime"]) == (DECIDED, NOW)
    # Stamped when the poll decided, after it read the cache: later than any change it saw.
    assert carried(write) == [(None, "inProgress", Health.HEALTHY, DECIDED, True)]


def test_a_sources_first_read_carries_its_changes_without_events() -> None:
    quiet = PollStamp(started=NOW, decided=DECIDED, notify=False)
    (write,) = plan_writes(SDS, seen(profile_entry("p1")), {}, None, quiet).writes
    assert [entry[-1] for entry in carried(write)] == [False]


def test_nothing_new_from_graph_writes_nothing() -> None:
    plan = plan_writes(
        SDS, seen(profile_entry("p1")), {"p1": cached(profile_entry("p1"))}, None, STAMP
    )
    assert plan.writes == []
    assert plan.unchanged == 1


def test_an_item_read_again_after_the_poll_began_is_left_as_it_is() -> None:
    """A job action read the item back from Graph after this poll began: what the poll saw
    may be older, and must not put an earlier state back."""
    later_read = "2026-11-22T05:05:00.5000000Z"
    current = {"p1": cached(profile_entry("p1"), lastCheckedDateTime=later_read)}
    plan = plan_writes(SDS, seen(profile_entry("p1", status="error")), current, None, STAMP)
    assert plan.writes == [] and plan.unchanged == 1


def test_a_new_status_replaces_the_item_on_the_etag_it_was_read_with() -> None:
    current = {"p1": cached(profile_entry("p1"))}
    plan = plan_writes(SDS, seen(profile_entry("p1", status="error")), current, None, STAMP)
    (write,) = plan.writes
    assert (write.kind, write.etag) == ("replace", 'W/"1"')
    assert write.entity["health"] == "error"
    assert write.entity["healthSince"] == DECIDED  # the health changed, as the change says
    assert carried(write) == [("inProgress", "error", Health.ERROR, DECIDED, True)]


def test_a_replace_keeps_the_changes_still_pending_before_its_own() -> None:
    earlier = plan_writes(SDS, seen(profile_entry("p1", status="paused")), {}, None, STAMP).writes[
        0
    ]
    current = {"p1": Cached(earlier.entity)}  # written, its change not recorded yet
    later = PollStamp(started=NOW, decided="2026-11-22T05:10:00.0000000Z")
    (write,) = plan_writes(
        SDS, seen(profile_entry("p1", status="error")), current, None, later
    ).writes
    assert [(c[0], c[1]) for c in carried(write)] == [(None, "paused"), ("paused", "error")]


def test_a_new_status_of_the_same_health_keeps_its_health_since() -> None:
    current = {"p1": cached(profile_entry("p1", status="success"))}
    plan = plan_writes(SDS, seen(profile_entry("p1", status="inProgress")), current, None, STAMP)
    assert plan.writes[0].entity["healthSince"] == EARLIER


def test_a_renamed_profile_merges_its_name_and_keeps_a_patched_status() -> None:
    patched = cached(profile_entry("p1"))
    patched["status"] = "paused"  # a PATCH since the last poll: the cached status is paused
    patched["health"] = "warning"
    renamed = profile_entry("p1")
    renamed.display_name = "Renamed"
    (write,) = plan_writes(SDS, seen(renamed), {"p1": patched}, None, STAMP).writes
    assert write.kind == "merge"
    assert json.loads(write.entity["profile"])["displayName"] == "Renamed"
    assert "statusProperties" not in write.entity  # the status columns are left alone
    assert "pendingChanges" not in write.entity  # no change of status or health


def test_an_item_that_fails_keeps_its_value_and_is_marked_once() -> None:
    current = {"p1": cached(profile_entry("p1"))}
    (write,) = plan_writes(SDS, seen(p1="timeout"), current, None, STAMP).writes
    assert (write.kind, write.entity) == (
        "merge",
        {"PartitionKey": SDS.name, "RowKey": "p1", "pollError": "timeout",
         "lastCheckedDateTime": EARLIER},
    )  # fmt: skip
    current["p1"]["pollError"] = "timeout"
    assert plan_writes(SDS, seen(p1="timeout"), current, None, STAMP).writes == []


def test_a_failing_item_counts_as_read_at_the_last_complete_listing() -> None:
    previous = PollRun(SDS.name, "succeeded", NOW, listed_date_time="2026-11-22T05:04:00.0Z")
    current = {"p1": cached(profile_entry("p1"))}
    (write,) = plan_writes(SDS, seen(p1="timeout"), current, previous, STAMP).writes
    assert write.entity["lastCheckedDateTime"] == "2026-11-22T05:04:00.0Z"


def test_an_item_a_complete_listing_lacks_is_marked_removed_with_its_change() -> None:
    current = {"p1": cached(profile_entry("p1")), "gone": cached(profile_entry("gone"))}
    complete = plan_writes(SDS, seen(profile_entry("p1")), current, None, STAMP)
    (write,) = complete.writes
    assert (write.kind, write.item_id, write.entity["removed"]) == ("merge", "gone", True)
    assert carried(write) == [("inProgress", None, Health.UNKNOWN, DECIDED, True)]
    assert complete.removals == {"gone"}
    partial = plan_writes(SDS, seen(profile_entry("p1"), complete=False), current, None, STAMP)
    assert partial.writes == []


def test_an_item_marked_removed_is_not_marked_again_and_can_come_back() -> None:
    gone = cached(profile_entry("p1"))
    removal = plan_writes(SDS, seen(), {"p1": gone}, None, STAMP).writes[0]
    marked = Cached({**gone, **removal.entity})
    assert plan_writes(SDS, seen(), {"p1": marked}, None, STAMP).writes == []
    back = PollStamp(started=NOW, decided="2026-11-22T05:10:00.0000000Z")
    (write,) = plan_writes(SDS, seen(profile_entry("p1")), {"p1": marked}, None, back).writes
    assert write.kind == "replace" and "removed" not in write.entity
    assert [(c[0], c[1]) for c in carried(write)] == [("inProgress", None), (None, "inProgress")]


def test_a_run_leaving_the_kept_window_carries_no_change() -> None:
    run = Cached(RUNS.entry("r1", {"id": "r1", "status": "completed"}).record().columns())
    (write,) = plan_writes(
        RUNS, Observation(removable=lambda _id: True), {"r1": run}, None, STAMP
    ).writes
    assert write.entity["removed"] is True and carried(write) == []
    job = Cached(JOBS.entry("sp:j1", {"id": "j1", "status": {"code": "Paused"}}).record().columns())
    (write,) = plan_writes(
        JOBS, Observation(removable=lambda _id: True), {"sp:j1": job}, None, STAMP
    ).writes
    assert [(c[0], c[1]) for c in carried(write)] == [("Paused", None)]


def test_an_item_too_large_to_cache_is_a_failure_not_a_removal() -> None:
    noise = os.urandom(900_000).hex()  # random hex compresses only to half: over 768 KiB
    huge = JOBS.entry("sp:big", {"id": "big", "blob": noise})
    current = {"sp:big": Cached({"PartitionKey": JOBS.name, "RowKey": "sp:big"})}
    observation = Observation(entries={"sp:big": huge}, removable=lambda _item_id: True)
    plan = plan_writes(JOBS, observation, current, None, STAMP)
    assert plan.failures == {"sp:big": "itemTooLarge"}
    assert not plan.complete  # the poll is partial: health says degraded
    assert [(w.kind, w.entity.get("pollError")) for w in plan.writes] == [("merge", "itemTooLarge")]


def test_a_listing_error_leaves_the_cache_as_it_is() -> None:
    observation = Observation(error=GraphError(403, "Forbidden", "Missing role"))
    assert (
        plan_writes(SDS, observation, {"p1": cached(profile_entry("p1"))}, None, STAMP).writes == []
    )


def test_what_is_left_to_record_is_what_landed() -> None:
    current = {
        "p1": cached(profile_entry("p1")),
        "p2": cached(profile_entry("p2")),
        "p3": cached(profile_entry("p3")),
    }
    current["p3"]["pendingChanges"] = current["p1"]["pendingChanges"] = ""
    observation = seen(profile_entry("p1", status="error"), profile_entry("p2", status="paused"))
    plan = plan_writes(SDS, observation, current, None, STAMP)  # p3 is gone
    landed = WriteOutcome(etags={"p1": 'W/"2"', "p3": 'W/"3"'})  # p2 did not land
    journal = {entry.item_id: entry for entry in journal_after(current, plan.writes, landed)}
    assert set(journal) == {"p1", "p3"}
    assert journal["p1"].etag == 'W/"2"' and not journal["p1"].removed
    assert [p.change.status for p in journal["p1"].pending] == ["error"]
    assert journal["p3"].removed and journal["p3"].etag == 'W/"3"'
    assert is_removed({"removed": True}) and not is_removed(current["p1"])


def test_a_narrowed_observation_decides_only_for_those_items() -> None:
    observation = seen(profile_entry("p1"), profile_entry("p2"), p3="timeout")
    narrowed = observation.narrowed({"p2", "p3"})
    assert set(narrowed.entries) == {"p2"} and narrowed.failures == {"p3": "timeout"}
    assert narrowed.removable("gone") and not narrowed.removable("p1")


def test_a_change_is_never_stamped_before_the_items_last_one() -> None:
    """A PATCH on an instance whose clock runs ahead stamped the item's last change after
    this poll's own clock: this poll's change still sorts after it."""
    ahead = "2026-11-22T05:05:02.1234567Z"
    current = {"p1": cached(profile_entry("p1"), lastChangedDateTime=ahead)}
    (write,) = plan_writes(
        SDS, seen(profile_entry("p1", status="error")), current, None, STAMP
    ).writes
    stamped = pending_of(write.entity)[0].change.changedDateTime
    assert stamped == "2026-11-22T05:05:02.1234570Z" > ahead
    assert write.entity["lastChangedDateTime"] == stamped
    later = PollStamp(started=NOW, decided="2026-11-22T05:06:00.0000000Z")
    (write,) = plan_writes(
        SDS, seen(profile_entry("p1", status="error")), current, None, later
    ).writes
    assert pending_of(write.entity)[0].change.changedDateTime == later.decided


def test_a_pending_change_keeps_the_event_id_it_was_written_with() -> None:
    (write,) = plan_writes(SDS, seen(profile_entry("p1")), {}, None, STAMP).writes
    (pending,) = pending_of(write.entity)
    assert pending.eventId == event_id(pending.change)
    stored = json.loads(write.entity["pendingChanges"])[0]
    assert stored["eventId"] == pending.eventId  # fixed once: a later release reads it back


def test_a_long_list_of_pending_changes_cleared_or_shortened_leaves_no_tail() -> None:
    """Past 32K characters the list spans two columns; a MERGE that writes less blanks the
    second, so what is read back is the new list, not the old one's tail."""
    item = cached(profile_entry("p1"))
    (write,) = plan_writes(
        SDS, seen(profile_entry("p1", status="error")), {"p1": item}, None, STAMP
    ).writes
    change = pending_of(write.entity)[0].change
    many = [
        PendingChange(change=change.model_copy(update={"reason": f"Change {n}."}))
        for n in range(120)
    ]
    put_pending(item, many)
    assert "pendingChanges_2" in item and len(pending_of(item)) == 120
    shorter: dict[str, Any] = {}
    put_pending(shorter, many[:1], over=item)
    assert shorter["pendingChanges_2"] == ""
    assert len(pending_of(Cached({**item, **shorter}))) == 1
    cleared: dict[str, Any] = {}
    put_pending(cleared, [])
    assert pending_of(Cached({**item, **cleared})) == []
