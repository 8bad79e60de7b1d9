"""Graph JSON <-> Table entity conversion, without storage: what is written is what comes back."""

from __future__ import annotations

from typing import Any

from azure.data.tables import EdmType, EntityProperty

from shared.sources.school_data_sync.cached import STATUS_FIELDS, CachedProfile
from shared.storage.codec import Entity, get_fields, put_fields
from shared.storage.items import StoredItem
from shared.storage.poll_runs import PollRun
from tests.support.samples import SEED


def status_to_columns(status: dict[str, Any]) -> Entity:
    columns: Entity = {}
    put_fields(columns, STATUS_FIELDS, status)
    return columns


def status_from_columns(columns: Entity) -> dict[str, Any]:
    return get_fields(columns, STATUS_FIELDS)


def test_the_seed_example_round_trips_in_order() -> None:
    back = status_from_columns(status_to_columns(SEED))
    assert back == SEED
    assert list(back) == list(SEED)


def test_error_count_is_stored_as_int64() -> None:
    columns = status_to_columns({**SEED, "errorCount": 2**63 - 1})
    assert columns["errorCount"] == EntityProperty(2**63 - 1, EdmType.INT64)
    assert status_from_columns(columns)["errorCount"] == 2**63 - 1


def test_timestamps_stay_strings_with_seven_digits() -> None:
    columns = status_to_columns(SEED)
    assert columns["lastActivityDateTime"] == "2021-07-13T20:55:17.6475128Z"


def test_nulls_and_missing_properties_are_told_apart() -> None:
    sent = {"id": "p1", "status": "paused", "statusMessage": None, "errorCount": None}
    columns = status_to_columns(sent)
    assert "statusMessage" not in columns  # Table Storage has no null
    assert status_from_columns(columns) == sent  # ...yet null comes back, absent stays absent


def test_unknown_properties_and_members_are_kept() -> None:
    sent = {**SEED, "status": "reticulating", "newThing": {"nested": [1, "two", None]}}
    assert status_from_columns(status_to_columns(sent)) == sent


def test_text_over_64_kib_is_split_not_cut() -> None:
    message = "é🙂\r\n" * 20_000  # 80,000 characters, 100,000 UTF-16 code units
    columns = status_to_columns({**SEED, "statusMessage": message})
    parts = [name for name in columns if name.startswith("statusMessage")]
    assert parts == ["statusMessage", "statusMessage_2", "statusMessage_3", "statusMessage_4"]
    for name in parts:
        assert len(columns[name].encode("utf-16-le")) <= 64 * 1024
    assert status_from_columns(columns)["statusMessage"] == message


def test_a_cached_profile_round_trips_through_its_entity() -> None:
    profile = CachedProfile(
        id=SEED["id"],
        display_name="Contoso High – SIS",
        state="provisioned",
        status=SEED,
        graph_hash="abc",
        graph_context="https://graph.microsoft.com/beta/$metadata#x",
        updated_by="patch",
        updated_date_time="2026-11-22T05:00:00.0000000Z",
    )
    back = CachedProfile.from_stored(StoredItem(profile.record().columns()))
    assert back == profile


def test_a_poll_run_round_trips_through_its_entity() -> None:
    run = PollRun(
        source="educationSynchronizationProfiles",
        outcome="unavailable",
        started_date_time="2026-11-22T05:00:00.0000000Z",
        finished_date_time="2026-11-22T05:00:01.0000000Z",
        counts={"listed": 0},
        errors=[{"code": "timeout", "count": 2}],
        source_error={"status": 400, "code": "BadRequest", "message": "Resource not found"},
    )
    assert PollRun.from_entity(run.to_entity()) == run
