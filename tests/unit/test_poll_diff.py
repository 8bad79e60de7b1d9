"""The poll's decisions, without storage or Graph: what a poll writes for what it saw, and
which changes those writes make (shared/polling/diff.py)."""

from __future__ import annotations

import json
import os
from typing import Any

from shared.core.changes import StatusChange
from shared.core.health import Health
from shared.graph.errors import GraphError
from shared.polling.diff import changes_made, pending_changes, plan_writes
from shared.sources import source_named
from shared.sources.base import Observation
from shared.sources.school_data_sync.entity import CachedProfile
from shared.storage.poll_runs import PollRun
from shared.storage.statuses import CacheWrite
from tests.support.samples import SEED

SDS = source_named("educationSynchronizationProfiles")
JOBS = source_named("synchronizationJobs")
RUNS = source_named("industryDataRuns")
EARLIER = "2026-11-22T05:00:00.0000000Z"
NOW = "2026-11-22T05:05:00.0000000Z"


class Cached(dict[str, Any]):
    """An entity as read from Table Storage: its columns and the ETag it was read with."""

    def __init__(self, entity: dict[str, Any], etag: str = 'W/"1"') -> None:
        super().__init__(entity)
        self.metadata = {"etag": etag}


def profile(profile_id: str, **status: Any) -> CachedProfile:
    return CachedProfile(
        id=profile_id,
        display_name=f"School {profile_id}",
        state="provisioned",
        status={**SEED, "id": profile_id, **status},
        graph_hash=f"hash-{profile_id}-{status.get('status', SEED['status'])}",
    )


def cached(entry: CachedProfile, **columns: Any) -> Cached:
    """What the cache holds after an earlier poll wrote ``entry``."""
    entry.health_since = entry.last_checked_date_time = EARLIER
    return Cached(entry.to_entity() | columns)


def seen(*entries: CachedProfile, complete: bool = True, **failures: str) -> Observation:
    observation = Observation(entries={entry.id: entry for entry in entries}, failures=failures)
    listed = {entry.id for entry in entries} | set(failures)
    if complete:
        observation.removable = lambda item_id: item_id not in listed
    return observation


def test_a_new_item_is_created_healthy_since_now() -> None:
    plan = plan_writes(seen(profile("p1")), {}, None, NOW)
    (write,) = plan.writes
    assert plan.complete
    assert (write.kind, write.etag) == ("create", None)
    assert write.entity["healthSince"] == write.entity["lastCheckedDateTime"] == NOW
    assert plan.unchanged == 0


def test_nothing_new_from_graph_writes_nothing() -> None:
    plan = plan_writes(seen(profile("p1")), {"p1": cached(profile("p1"))}, None, NOW)
    assert plan.writes == []
    assert plan.unchanged == 1


def test_a_new_status_replaces_the_item_on_the_etag_it_was_read_with() -> None:
    current = {"p1": cached(profile("p1"))}
    plan = plan_writes(seen(profile("p1", status="error")), current, None, NOW)
    (write,) = plan.writes
    assert (write.kind, write.etag) == ("replace", 'W/"1"')
    assert write.entity["health"] == "error"
    assert write.entity["healthSince"] == NOW  # the health changed


def test_a_new_status_of_the_same_health_keeps_its_health_since() -> None:
    current = {"p1": cached(profile("p1", status="success"))}
    plan = plan_writes(seen(profile("p1", status="inProgress")), current, None, NOW)
    assert plan.writes[0].entity["healthSince"] == EARLIER


def test_a_renamed_profile_merges_its_name_and_keeps_a_patched_status() -> None:
    patched = cached(profile("p1"))
    patched.update(CachedProfile.from_entity(patched).to_entity())
    patched["status"] = "paused"  # a PATCH since the last poll: the cached status is paused
    renamed = profile("p1")
    renamed.display_name = "Renamed"
    (write,) = plan_writes(seen(renamed), {"p1": patched}, None, NOW).writes
    assert write.kind == "merge"
    assert json.loads(write.entity["profile"])["displayName"] == "Renamed"
    assert "statusProperties" not in write.entity  # the status columns are left alone
    assert write.entity["health"] == "warning"  # judged as cached: paused


def test_an_item_that_fails_keeps_its_value_and_is_marked_once() -> None:
    current = {"p1": cached(profile("p1"))}
    (write,) = plan_writes(seen(p1="timeout"), current, None, NOW).writes
    assert (write.kind, write.entity) == (
        "merge",
        {"PartitionKey": SDS.name, "RowKey": "p1", "pollError": "timeout",
         "lastCheckedDateTime": EARLIER},
    )  # fmt: skip
    current["p1"]["pollError"] = "timeout"
    assert plan_writes(seen(p1="timeout"), current, None, NOW).writes == []


def test_a_failing_item_counts_as_read_at_the_last_complete_listing() -> None:
    previous = PollRun(SDS.name, "succeeded", NOW, listed_date_time="2026-11-22T05:04:00.0Z")
    (write,) = plan_writes(seen(p1="timeout"), {"p1": cached(profile("p1"))}, previous, NOW).writes
    assert write.entity["lastCheckedDateTime"] == "2026-11-22T05:04:00.0Z"


def test_an_item_is_removed_only_when_a_complete_listing_lacks_it() -> None:
    current = {"p1": cached(profile("p1")), "gone": cached(profile("gone"))}
    complete = plan_writes(seen(profile("p1")), current, None, NOW)
    assert [(w.kind, w.item_id) for w in complete.writes] == [("delete", "gone")]
    partial = plan_writes(seen(profile("p1"), complete=False), current, None, NOW)
    assert partial.writes == []


def test_an_item_too_large_to_cache_is_a_failure_not_a_removal() -> None:
    noise = os.urandom(900_000).hex()  # random hex compresses only to half: over 768 KiB
    huge = JOBS.entry("sp:big", {"id": "big", "blob": noise})
    current = {"sp:big": Cached({"PartitionKey": JOBS.name, "RowKey": "sp:big"})}
    observation = Observation(entries={"sp:big": huge}, removable=lambda _item_id: True)
    plan = plan_writes(observation, current, None, NOW)
    assert plan.failures == {"sp:big": "itemTooLarge"}
    assert not plan.complete  # the poll is partial: health says degraded
    assert [(w.kind, w.entity.get("pollError")) for w in plan.writes] == [("merge", "itemTooLarge")]


def test_a_listing_error_leaves_the_cache_as_it_is() -> None:
    observation = Observation(error=GraphError(403, "Forbidden", "Missing role"))
    assert plan_writes(observation, {"p1": cached(profile("p1"))}, None, NOW).writes == []


def test_writes_that_change_status_or_health_are_changes() -> None:
    current = {"p1": cached(profile("p1")), "p2": cached(profile("p2"))}
    plan = plan_writes(seen(profile("p1", status="error"), profile("p3")), current, None, NOW)
    changes = changes_made(SDS, plan.writes, current, {}, NOW)
    assert [(c.id, c.previousStatus, c.status, c.previousHealth, c.health) for c in changes] == [
        ("p1", "inProgress", "error", Health.HEALTHY, Health.ERROR),
        ("p3", None, "inProgress", None, Health.HEALTHY),
        ("p2", "inProgress", None, Health.HEALTHY, Health.UNKNOWN),
    ]
    assert changes[2].reason == "Removed: Graph no longer lists it."
    assert changes[0].path == "/api/education/synchronizationProfiles/p1/profileStatus"
    assert {c.changedDateTime for c in changes} == {NOW}


def test_a_write_that_did_not_land_is_no_change() -> None:
    plan = plan_writes(seen(profile("p1")), {}, None, NOW)
    assert changes_made(SDS, plan.writes, {}, {"p1": "storageUnavailable"}, NOW) == []


def test_a_run_leaving_the_kept_window_is_no_change() -> None:
    run = RUNS.entry("r1", {"id": "r1", "status": "completed"}).to_entity()
    removal = CacheWrite("delete", Cached(run), 'W/"1"')
    assert changes_made(RUNS, [removal], {"r1": Cached(run)}, {}, NOW) == []
    job = JOBS.entry("sp:j1", {"id": "j1", "status": {"code": "Paused"}}).to_entity()
    removal = CacheWrite("delete", Cached(job), 'W/"1"')
    (change,) = changes_made(JOBS, [removal], {"sp:j1": Cached(job)}, {}, NOW)
    assert (change.previousStatus, change.status) == ("Paused", None)


def test_changes_kept_on_their_items_come_back_oldest_first() -> None:
    def change(at: str) -> str:
        return StatusChange(
            source=SDS.name, id="p1", previousStatus=None, status="error", health="error",
            changedDateTime=at, path="/x",
        ).model_dump_json()  # fmt: skip

    current = {
        "p1": Cached({"pendingChanges": f"[{change(NOW)},{change(EARLIER)}]"}),
        "p2": Cached({"pendingChanges": "not json"}),
        "p3": Cached({}),
    }
    assert [c.changedDateTime for c in pending_changes(current)] == [EARLIER, NOW]
