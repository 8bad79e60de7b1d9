"""The status store against Azurite: exact round trips, ETags, batches, bad keys, outages."""

from __future__ import annotations

import asyncio

import pytest

from shared.core.errors import InvalidKeyError, StorageUnavailableError, VersionConflictError
from shared.http.errors import api_error
from shared.sources import load_settings, source_named
from shared.sources.documents import CachedDocument
from shared.sources.provisioning_jobs.ids import job_key
from shared.sources.school_data_sync.cached import PROFILE_PART, CachedProfile
from shared.sources.school_data_sync.profiles import list_profiles
from shared.storage.codec import put_document
from shared.storage.items import (
    CacheWrite,
    ItemUpdate,
    create_write,
    delete_write,
    merge_write,
)
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore
from tests.support.samples import SEED, SYNC_STATUS_EXAMPLE, profile_entry
from tools.processes import azurite_connection_string, free_port

PROFILES_SOURCE = "educationSynchronizationProfiles"
JOBS = source_named("synchronizationJobs")
SP_ID = "4f0c5b52-1f7a-4d59-9a53-0b1f0e7d2a11"


def rewrite(profile: CachedProfile) -> CacheWrite:
    """The profile written whole over the version it was read at."""
    return CacheWrite("replace", profile.record().columns(), profile.etag)


async def get_profile(store: StatusStore, profile_id: str) -> CachedProfile | None:
    item = await store.statuses.get(PROFILES_SOURCE, profile_id)
    return None if item is None else CachedProfile.from_stored(item)


async def test_a_status_comes_back_from_storage_value_for_value(store: StatusStore) -> None:
    sent = profile_entry(SEED["id"], errorCount=2**63 - 1, statusMessage="a\r\nb – ü ✓ 🙂")
    outcome = await store.statuses.write([create_write(sent.record(), [])])
    assert outcome.written == 1
    back = await get_profile(store, SEED["id"])
    assert back is not None
    assert back.status == sent.status
    assert back.status["lastActivityDateTime"] == "2021-07-13T20:55:17.6475128Z"
    assert back.etag and back.etag.startswith('W/"')


async def test_a_long_status_message_survives_storage(store: StatusStore) -> None:
    message = "Zeile 1\r\n" + "ö" * 50_000
    sent = profile_entry("long", statusMessage=message)
    await store.statuses.write([create_write(sent.record(), [])])
    back = await get_profile(store, "long")
    assert back is not None and back.status["statusMessage"] == message


async def test_replace_is_conditional_on_the_etag(store: StatusStore) -> None:
    await store.statuses.write([create_write(profile_entry("p1").record(), [])])
    cached = await get_profile(store, "p1")
    assert cached is not None and cached.etag
    cached.status["status"] = "paused"
    new_etag = await store.statuses.write_one(rewrite(cached))
    assert new_etag != cached.etag
    with pytest.raises(VersionConflictError):
        await store.statuses.write_one(rewrite(cached))


async def test_many_changes_go_in_batches_and_removals_apply(store: StatusStore) -> None:
    outcome = await store.statuses.write(
        [create_write(profile_entry(f"p{i:03}").record(), []) for i in range(250)]
    )
    assert outcome.written == 250 and not outcome.failed
    cached = await store.statuses.read_source(PROFILES_SOURCE)
    assert len(cached) == 250
    removals = [
        delete_write(PROFILES_SOURCE, key, e.etag) for key, e in cached.items() if key < "p100"
    ]
    outcome = await store.statuses.write(removals)
    assert outcome.removed == 100
    assert len(await store.statuses.read_source(PROFILES_SOURCE)) == 150


async def test_a_batch_with_a_stale_etag_lands_the_rest_and_names_the_conflict(
    store: StatusStore,
) -> None:
    """A PATCH between a poll's read and its write: that write is a conflict (the poll reads
    the item again and decides anew); the other writes of the batch land."""
    await store.statuses.write(
        [create_write(profile_entry(f"q{i}").record(), []) for i in range(3)],
    )
    cached = await store.statuses.read_source(PROFILES_SOURCE)
    patched = await get_profile(store, "q1")
    assert patched is not None and patched.etag
    patched.status["status"] = "paused"
    await store.statuses.write_one(rewrite(patched))  # the poll's is stale
    replacements = [
        CacheWrite("replace", profile_entry(key, status="error").record().columns(), item.etag)
        for key, item in cached.items()
    ]
    outcome = await store.statuses.write(replacements)
    assert (outcome.written, outcome.conflicts, outcome.failed) == (2, {"q1"}, {})
    assert set(outcome.etags) == {"q0", "q2"}
    statuses = {key: (await get_profile(store, key)).status["status"] for key in cached}  # type: ignore[union-attr]
    assert statuses == {"q0": "error", "q1": "paused", "q2": "error"}


async def test_a_merge_of_the_listing_fields_keeps_a_patched_status(store: StatusStore) -> None:
    """A renamed profile whose status Graph did not change: the PATCH survives."""
    await store.statuses.write([create_write(profile_entry("m1").record(), [])])
    patched = await get_profile(store, "m1")
    assert patched is not None and patched.etag
    patched.status["statusMessage"] = "patched"
    etag = await store.statuses.write_one(rewrite(patched))
    renamed = CachedProfile("m1", display_name=None, state="deleting", status={})
    over = await store.statuses.get(PROFILES_SOURCE, "m1")
    assert over is not None and over.etag == etag
    merge = merge_write(over, ItemUpdate(documents={PROFILE_PART: renamed.listing()}))
    outcome = await store.statuses.write([merge])
    assert outcome.written == 1
    back = await get_profile(store, "m1")
    assert back is not None
    assert (back.display_name, back.state) == (None, "deleting")
    assert back.status["statusMessage"] == "patched"


async def test_list_pages_with_a_status_filter(store: StatusStore) -> None:
    await store.statuses.write(
        [
            create_write(
                profile_entry(f"r{i:02}", status="error" if i % 3 == 0 else "done").record(), []
            )
            for i in range(30)
        ]
    )
    seen: list[str] = []
    continuation = None
    while True:
        page, continuation = await list_profiles(
            store, statuses=["error", "quarantined"], top=4, continuation=continuation
        )
        assert len(page) <= 4
        seen += [item.id for item in page]
        if continuation is None:
            break
    assert seen == [f"r{i:02}" for i in range(0, 30, 3)]


@pytest.mark.parametrize(
    "bad", ["a/b", "a\\b", "a#b", "a?b", "a\x00b", "tab\tid", "del\x7f", "c1\x85", "", "x" * 513]
)
def test_bad_keys_are_rejected_before_storage(bad: str) -> None:
    with pytest.raises(InvalidKeyError) as raised:
        validate_key(bad)
    assert api_error(raised.value).status == 400


async def test_unreachable_storage_is_storage_unavailable(table_prefix: str) -> None:
    settings = load_settings(
        {
            "AzureWebJobsStorage": azurite_connection_string(free_port()),
            "STATUS_TABLE_PREFIX": table_prefix,
        }
    )
    store = StatusStore.from_settings(settings)
    try:
        with pytest.raises(StorageUnavailableError):
            await asyncio.wait_for(get_profile(store, "p1"), timeout=30)
    finally:
        await store.close()


def job_item(job_id: str, status: dict[str, object]) -> CachedDocument:
    resource = {"id": job_id, "templateId": "scim", "status": status}
    return CachedDocument(JOBS, job_key(SP_ID, job_id), resource, graph_hash="h")


async def test_a_job_comes_back_from_storage_exactly_as_graph_sent_it(store: StatusStore) -> None:
    status = {
        **SYNC_STATUS_EXAMPLE,
        "countSuccessiveCompleteFailures": 2**63 - 1,
        "steadyStateLastAchievedTime": "2026-11-20T10:00:00.1234567Z",
        "troubleshootingUrl": None,
    }
    sent = job_item("scim.a1", status)
    await store.statuses.write([create_write(sent.record(), [])])
    back = await JOBS.cached(store, sent.id)
    assert back is not None
    assert back.resource == sent.resource
    assert list(back.resource["status"]) == list(status)  # Graph's order
    listed = await JOBS.cached_items(store, id_prefix=f"{SP_ID}:")
    assert [item.id for item in listed] == [sent.id]


async def test_a_huge_job_is_compressed_not_cut(store: StatusStore) -> None:
    # About 2 MiB of JSON: over Table Storage's 1 MiB entity limit as text.
    progress = [
        {"completedUnits": n, "totalUnits": 10**6, "units": f"user batch {n} " + "x" * 40}
        for n in range(20_000)
    ]
    sent = job_item("scim.huge", {**SYNC_STATUS_EXAMPLE, "progress": progress})
    entity = sent.record().columns()
    assert "resource" not in entity and "resourceZ" in entity
    await store.statuses.write([CacheWrite("create", entity)])
    back = await JOBS.cached(store, sent.id)
    assert back is not None and back.resource == sent.resource


def test_a_document_too_large_even_compressed_is_refused() -> None:
    import os

    noise = os.urandom(900_000).hex()  # random hex compresses only to half
    with pytest.raises(ValueError, match="even compressed"):
        put_document({}, "resource", {"blob": noise})


async def test_an_event_queued_again_after_delivery_is_not_sent_again(store: StatusStore) -> None:
    from shared.core.changes import ChangeEvent

    event = ChangeEvent(
        eventId="e-1", source="educationSynchronizationProfiles", id="p1",
        previousStatus="success", status="error", health="error",
        changedDateTime="2026-11-22T06:00:00.1234567Z", path="/api/x",
    )  # fmt: skip
    await store.outbox.add("sub-1", [event])
    ((waiting, entity),) = await store.outbox.read("sub-1", 10)
    assert waiting == event
    await store.outbox.settle(entity, delivered=True)
    await store.outbox.add("sub-1", [event])  # recorded again after a failure part-way
    assert await store.outbox.read("sub-1", 10) == []
    assert await store.outbox.targets() == []


async def test_history_of_an_id_too_long_for_a_row_key_is_kept(store: StatusStore) -> None:
    from shared.core.changes import StatusChange

    long_id = "é~%=" * 120  # escaped, far over 1 KiB of UTF-16
    change = StatusChange(
        source="industryDataRuns", id=long_id, previousStatus=None, status="failed",
        health="error", changedDateTime="2026-11-22T06:00:00.1234567Z", path="/api/x",
    )  # fmt: skip
    await store.history.record([change], ["e-2"])
    changes, _ = await store.history.page("industryDataRuns", long_id, top=10, continuation=None)
    assert changes == [change]
