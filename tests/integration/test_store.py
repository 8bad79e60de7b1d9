"""The status store against Azurite: exact round trips, ETags, batches, bad keys, outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from azure.core.exceptions import ResourceModifiedError

from shared.errors import ApiError, StorageUnavailableError
from shared.settings import Settings
from shared.store import PROFILES_SOURCE, CachedProfile, Change, StatusStore, validate_key
from tests.conftest import SEED, Azurite, azurite_connection_string, free_port


@pytest.fixture
async def store(azurite: Azurite, table_prefix: str) -> AsyncIterator[StatusStore]:
    settings = Settings.from_env(
        {"AzureWebJobsStorage": azurite.connection_string, "STATUS_TABLE_PREFIX": table_prefix}
    )
    store = StatusStore.from_settings(settings)
    yield store
    await store.close()


def profile(profile_id: str, **status: object) -> CachedProfile:
    return CachedProfile(
        id=profile_id,
        display_name=f"School {profile_id}",
        state="provisioned",
        status={**SEED, "id": profile_id, **status},
        graph_hash=f"hash-{profile_id}",
    )


async def test_a_status_comes_back_from_storage_value_for_value(store: StatusStore) -> None:
    sent = profile(SEED["id"], errorCount=2**63 - 1, statusMessage="a\r\nb – ü ✓ 🙂")
    outcome = await store.write_source([Change("create", sent.to_entity())])
    assert outcome.written == 1
    back = await store.get_profile(SEED["id"])
    assert back is not None
    assert back.status == sent.status
    assert back.status["lastActivityDateTime"] == "2021-07-13T20:55:17.6475128Z"
    assert back.etag and back.etag.startswith('W/"')


async def test_a_long_status_message_survives_storage(store: StatusStore) -> None:
    message = "Zeile 1\r\n" + "ö" * 50_000
    sent = profile("long", statusMessage=message)
    await store.write_source([Change("create", sent.to_entity())])
    back = await store.get_profile("long")
    assert back is not None and back.status["statusMessage"] == message


async def test_replace_is_conditional_on_the_etag(store: StatusStore) -> None:
    await store.write_source([Change("create", profile("p1").to_entity())])
    cached = await store.get_profile("p1")
    assert cached is not None and cached.etag
    cached.status["status"] = "paused"
    new_etag = await store.replace_profile(cached, etag=cached.etag)
    assert new_etag != cached.etag
    with pytest.raises(ResourceModifiedError):
        await store.replace_profile(cached, etag=cached.etag)


async def test_many_changes_go_in_batches_and_removals_apply(store: StatusStore) -> None:
    outcome = await store.write_source(
        [Change("create", profile(f"p{i:03}").to_entity()) for i in range(250)]
    )
    assert outcome.written == 250 and not outcome.failed
    cached = await store.read_source(PROFILES_SOURCE)
    assert len(cached) == 250
    removals = [
        Change("delete", e, e.metadata["etag"]) for key, e in cached.items() if key < "p100"
    ]
    outcome = await store.write_source(removals)
    assert outcome.removed == 100
    assert len(await store.read_source(PROFILES_SOURCE)) == 150


async def test_a_batch_with_a_stale_etag_still_lands_every_write(store: StatusStore) -> None:
    """A PATCH between a poll's read and its write: the poll's (Graph's) value wins."""
    await store.write_source(
        [Change("create", profile(f"q{i}").to_entity()) for i in range(3)],
    )
    cached = await store.read_source(PROFILES_SOURCE)
    patched = await store.get_profile("q1")
    assert patched is not None and patched.etag
    patched.status["status"] = "paused"
    await store.replace_profile(patched, etag=patched.etag)  # the ETag the poll read is stale now
    replacements = [
        Change("replace", profile(key, status="error").to_entity(), entity.metadata["etag"])
        for key, entity in cached.items()
    ]
    outcome = await store.write_source(replacements)
    assert outcome.written == 3 and not outcome.failed
    for key in cached:
        back = await store.get_profile(key)
        assert back is not None and back.status["status"] == "error"


async def test_a_merge_of_the_listing_fields_keeps_a_patched_status(store: StatusStore) -> None:
    """A renamed profile whose status Graph did not change: the PATCH survives."""
    await store.write_source([Change("create", profile("m1").to_entity())])
    cached = await store.read_source(PROFILES_SOURCE)
    patched = await store.get_profile("m1")
    assert patched is not None and patched.etag
    patched.status["statusMessage"] = "patched"
    await store.replace_profile(patched, etag=patched.etag)  # after the poll's read
    renamed = CachedProfile("m1", display_name=None, state="deleting", status={})
    keys = {"PartitionKey": PROFILES_SOURCE, "RowKey": "m1"}
    merge = Change("merge", keys | renamed.profile_columns(), cached["m1"].metadata["etag"])
    outcome = await store.write_source([merge])
    assert outcome.written == 1
    back = await store.get_profile("m1")
    assert back is not None
    assert (back.display_name, back.state) == (None, "deleting")
    assert back.status["statusMessage"] == "patched"


async def test_list_pages_with_a_status_filter(store: StatusStore) -> None:
    await store.write_source(
        [
            Change(
                "create", profile(f"r{i:02}", status="error" if i % 3 == 0 else "done").to_entity()
            )
            for i in range(30)
        ]
    )
    seen: list[str] = []
    continuation = None
    while True:
        page, continuation = await store.list_profiles(
            statuses=["error", "quarantined"], top=4, continuation=continuation
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
    with pytest.raises(ApiError) as raised:
        validate_key(bad)
    assert raised.value.status == 400


async def test_unreachable_storage_is_storage_unavailable(table_prefix: str) -> None:
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage": azurite_connection_string(free_port()),
            "STATUS_TABLE_PREFIX": table_prefix,
        }
    )
    store = StatusStore.from_settings(settings)
    try:
        with pytest.raises(StorageUnavailableError):
            await asyncio.wait_for(store.get_profile("p1"), timeout=30)
    finally:
        await store.close()
