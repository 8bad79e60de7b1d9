"""PATCH validation and the Graph models: what a caller may send, and what Graph may send."""

from __future__ import annotations

import json

import pytest

from shared.core.errors import InvalidInputError
from shared.core.jsontext import INT64_MAX
from shared.core.time import parse_timestamp
from shared.http.errors import api_error
from shared.sources.school_data_sync.models import (
    EducationSynchronizationProfileStatus,
    EducationSynchronizationStatus,
    parse_profile_status_patch,
)

PROFILE = "86904b1e-c7d0-4ead-b13a-98f11fc400ee"


def test_the_nine_documented_status_members() -> None:
    assert [member.value for member in EducationSynchronizationStatus] == [
        "paused",
        "inProgress",
        "success",
        "error",
        "validationError",
        "quarantined",
        "unknownFutureValue",
        "extracting",
        "validating",
    ]


def test_a_full_patch_keeps_every_value_as_sent() -> None:
    body = {
        "@odata.type": "#microsoft.graph.educationSynchronizationProfileStatus",
        "id": PROFILE,
        "status": "error",
        "statusMessage": "Line one\r\nLine two – ünïcode ✓",
        "errorCount": INT64_MAX,
        "lastActivityDateTime": "2021-07-13T20:55:17.6475128Z",
        "lastSynchronizationDateTime": "2021-07-13T22:55:17.1+02:00",
    }
    changes = parse_profile_status_patch(body, PROFILE).changes()
    assert changes == {
        "status": "error",
        "statusMessage": "Line one\r\nLine two – ünïcode ✓",
        "errorCount": INT64_MAX,
        "lastActivityDateTime": "2021-07-13T20:55:17.6475128Z",
        "lastSynchronizationDateTime": "2021-07-13T22:55:17.1+02:00",
    }


def test_only_the_properties_sent_are_changes() -> None:
    changes = parse_profile_status_patch({"statusMessage": None}, PROFILE).changes()
    assert changes == {"statusMessage": None}


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"status": "broken"}, "status"),
        ({"status": None}, "status"),
        ({"status": 3}, "status"),
        ({"errorCount": -1}, "errorCount"),
        ({"errorCount": 1.5}, "errorCount"),
        ({"errorCount": 1.0}, "errorCount"),
        ({"errorCount": "3"}, "errorCount"),
        ({"errorCount": True}, "errorCount"),
        ({"errorCount": INT64_MAX + 1}, "errorCount"),
        ({"errorCount": None}, "errorCount"),
        ({"lastActivityDateTime": "2021-07-13T20:55:17"}, "lastActivityDateTime"),
        ({"lastActivityDateTime": "2021-07-13"}, "lastActivityDateTime"),
        ({"lastActivityDateTime": "yesterday"}, "lastActivityDateTime"),
        ({"lastActivityDateTime": "2021-02-30T20:55:17Z"}, "lastActivityDateTime"),
        ({"lastSynchronizationDateTime": "2021-07-13T20:55:17.12345678Z"}, "lastSynchronizationDateTime"),
        ({"lastSynchronizationDateTime": 1626209717}, "lastSynchronizationDateTime"),
        ({"statusMessage": ["a"]}, "statusMessage"),
        ({"id": "another-profile"}, "id"),
        ({"id": None}, "id"),
        ({"@odata.type": None}, "@odata.type"),
        ({"@odata.type": "#microsoft.graph.educationSynchronizationProfile"}, "@odata.type"),
        ({"@odata.context": "x"}, "@odata.context"),
        ({"displayName": "renamed"}, "displayName"),
        ({"STATUS": "error"}, "STATUS"),
    ],
)  # fmt: skip
def test_invalid_patches_are_400_naming_the_property(body: dict, target: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_profile_status_patch(body, PROFILE)
    error = api_error(raised.value)
    assert error.status == 400
    assert error.code == "BadRequest"
    assert error.target == target
    assert target in error.message


@pytest.mark.parametrize("body", [[], "text", 3, None, True])
def test_a_body_that_is_not_an_object_is_400(body: object) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_profile_status_patch(body, PROFILE)
    assert api_error(raised.value).status == 400
    assert "JSON object" in raised.value.message


def test_an_unknown_status_lists_the_allowed_members() -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_profile_status_patch({"status": "eror"}, PROFILE)
    assert "validationError" in raised.value.message
    assert "'eror'" in raised.value.message


@pytest.mark.parametrize(
    "value",
    [
        "2021-07-13T20:55:17.6475128Z",
        "2021-07-13T20:55:17Z",
        "2021-07-13T20:55Z",
        "2021-07-13T20:55:17.6-05:30",
    ],
)
def test_timestamps_with_an_offset_are_accepted(value: str) -> None:
    assert parse_timestamp(value).tzinfo is not None


def test_graph_status_keeps_unknown_members_and_properties() -> None:
    sent = {"id": PROFILE, "status": "reticulating", "futureProperty": {"a": 1}, "errorCount": 0}
    status = EducationSynchronizationProfileStatus.model_validate(sent)
    assert status.status == "reticulating"
    assert status.model_extra == {"futureProperty": {"a": 1}}


def test_the_sdks_typed_job_model_would_not_keep_what_graph_sent() -> None:
    """Why jobs are read as raw JSON through the adapter, not msgraph-sdk's typed v1.0
    builders: their model rewrites timestamps and drops enum members it does not know."""
    from kiota_serialization_json.json_parse_node import JsonParseNode
    from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
    from msgraph.generated.models.synchronization_job import SynchronizationJob

    sent = {
        "id": "scim.1",
        "status": {
            "code": "Quarantine",
            "lastExecution": {"state": "SomethingNew", "timeBegan": "2021-07-13T20:55:17.6475128Z"},
        },
    }
    typed = JsonParseNode(json.loads(json.dumps(sent))).get_object_value(SynchronizationJob)
    writer = JsonSerializationWriter()
    writer.write_object_value(None, typed)
    round_trip = json.loads(writer.get_serialized_content())
    execution = round_trip["status"]["lastExecution"]
    assert "state" not in execution  # the member it does not know is gone
    assert execution["timeBegan"] == "2021-07-13T20:55:17.647512+00:00"  # 7th digit and Z lost
    assert round_trip != sent
