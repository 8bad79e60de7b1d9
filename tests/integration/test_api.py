"""The HTTP routes through the app's registered handlers, against Azurite and the tenant."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from shared import composition
from tests.support.app import App
from tests.support.samples import SEED, SEED_ID
from tools.processes import azurite_connection_string, free_port


@pytest.fixture
async def seeded(app: App, tenant: Any) -> App:
    tenant.add_profile(SEED_ID, display_name="Contoso High", state="provisioned", status=dict(SEED))
    await app.poll()
    return app


def assert_graph_error(reply: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("application/json")
    error = reply.json()["error"]
    assert set(error) >= {"code", "message"}
    assert error["message"]
    assert "Traceback" not in error["message"]
    if code:
        assert error["code"] == code
    return error


# -- list ----------------------------------------------------------------------------------


async def test_list_pages_with_an_opaque_next_link_and_filters(app: App, tenant: Any) -> None:
    statuses = ["error", "success", "quarantined", "paused", "error", "inProgress", "success"]
    for index, status in enumerate(statuses):
        tenant.add_profile(f"p{index}", display_name=f"School {index}", status={"status": status})
    await app.poll()

    seen: list[dict[str, Any]] = []
    params: dict[str, str] = {"$top": "3"}
    while True:
        reply = await app.list_profiles(**params)
        assert reply.status == 200
        body = reply.json()
        assert len(body["value"]) <= 3
        seen += body["value"]
        if "@odata.nextLink" not in body:
            break
        params = dict(parse_qsl(urlsplit(body["@odata.nextLink"]).query))
        assert "$skiptoken" in params
    assert [item["id"] for item in seen] == [f"p{index}" for index in range(7)]
    first = seen[0]
    assert first["displayName"] == "School 0"
    assert first["profileStatus"]["status"] == "error"

    reply = await app.list_profiles(status="error,quarantined")
    assert [item["id"] for item in reply.json()["value"]] == ["p0", "p2", "p4"]


async def test_the_next_link_never_carries_the_key(app: App, tenant: Any) -> None:
    """A link gets copied into logs and run histories: a caller that authenticates with
    ?code= adds its own key again to follow it."""
    for index in range(3):
        tenant.add_profile(f"p{index}")
    await app.poll()
    body = (await app.list_profiles(**{"$top": "2", "code": "the-key"})).json()
    query = dict(parse_qsl(urlsplit(body["@odata.nextLink"]).query))
    assert "code" not in query and "the-key" not in body["@odata.nextLink"]
    second = (await app.list_profiles(**query, code="the-key")).json()
    assert [item["id"] for item in second["value"]] == ["p2"]


async def test_list_of_an_empty_cache_is_an_empty_collection(app: App) -> None:
    reply = await app.list_profiles()
    assert reply.status == 200
    assert reply.json()["value"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"$top": "0"},
        {"$top": "1000"},
        {"$top": "ten"},
        {"$top": "-1"},
        {"$top": "9" * 5000},
        {"$top": "²"},
        {"$skiptoken": "not-a-token"},
        {"$skiptoken": "eyJ4IjoxfQ"},  # valid base64 JSON, but not ours
        {"$skiptoken": base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()},
        {"status": ""},
        {"status": "error,'or 1 eq 1"},
        {"status": "\ud800"},
        {"status": ",".join(f"s{n}" for n in range(700))},
        {"$skiptoken": base64.urlsafe_b64encode(b'{"PartitionKey": "\\ud800"}').decode()},
        {"$skiptoken": base64.urlsafe_b64encode(b'{"PartitionKey": 7}').decode()},
    ],
)
async def test_bad_list_parameters_are_400(app: App, params: dict[str, str]) -> None:
    assert_graph_error(await app.list_profiles(**params), 400, "BadRequest")


# -- get -----------------------------------------------------------------------------------


async def test_get_answers_the_status_with_its_etag(seeded: App) -> None:
    reply = await seeded.get_status(SEED_ID)
    assert reply.status == 200
    assert reply.headers["ETag"].startswith('W/"')
    body = reply.json()
    assert next(iter(body)) == "@odata.context"
    assert {k: v for k, v in body.items() if k != "@odata.context"} == SEED


async def test_get_of_an_unknown_profile_is_404(seeded: App) -> None:
    assert_graph_error(await seeded.get_status("no-such-profile"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "bad", ["a/b", "a\\b", "a#b", "a?b", "a\x00b", "a\nb", "\x7f", "\ud800", "x" * 600]
)
async def test_ids_storage_cannot_hold_are_400(seeded: App, bad: str) -> None:
    assert_graph_error(await seeded.get_status(bad), 400)
    assert_graph_error(await seeded.patch_status(bad, {"status": "paused"}), 400)


# -- patch ---------------------------------------------------------------------------------


async def test_patch_answers_the_whole_object_and_a_new_etag(seeded: App) -> None:
    before = await seeded.get_status(SEED_ID)
    reply = await seeded.patch_status(
        SEED_ID,
        {
            "@odata.type": "#microsoft.graph.educationSynchronizationProfileStatus",
            "id": SEED_ID,
            "status": "quarantined",
            "errorCount": 2**63 - 1,
            "lastActivityDateTime": "2026-11-22T05:00:00.1234567+01:00",
        },
        if_match=before.headers["ETag"],
    )
    assert reply.status == 200
    assert reply.headers["ETag"] != before.headers["ETag"]
    expected = {
        **SEED,
        "status": "quarantined",
        "errorCount": 2**63 - 1,
        "lastActivityDateTime": "2026-11-22T05:00:00.1234567+01:00",
    }
    assert {k: v for k, v in reply.json().items() if k != "@odata.context"} == expected
    after = await seeded.get_status(SEED_ID)
    assert after.json() == reply.json()
    assert after.headers["ETag"] == reply.headers["ETag"]


async def test_patch_with_a_stale_if_match_is_412(seeded: App) -> None:
    etag = (await seeded.get_status(SEED_ID)).headers["ETag"]
    assert (await seeded.patch_status(SEED_ID, {"status": "paused"}, if_match=etag)).status == 200
    reply = await seeded.patch_status(SEED_ID, {"status": "error"}, if_match=etag)
    assert_graph_error(reply, 412, "PreconditionFailed")
    assert (await seeded.get_status(SEED_ID)).json()["status"] == "paused"


async def test_patch_with_if_match_star_applies(seeded: App) -> None:
    reply = await seeded.patch_status(SEED_ID, {"statusMessage": None}, if_match="*")
    assert reply.status == 200
    assert reply.json()["statusMessage"] is None


async def test_patch_of_an_unknown_profile_is_404(seeded: App) -> None:
    assert_graph_error(await seeded.patch_status("nobody", {"status": "paused"}), 404)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"",
        b"null",
        b"\xff\xfe\x00",
        b'{"statusMessage": "lone \\ud800 surrogate"}',
        b"[" * 100_00 + b"]" * 100_00,
        {"status": "broken"},
        {"errorCount": -3},
        {"errorCount": 2.5},
        {"lastSynchronizationDateTime": "2021-07-13 20:55"},
        {"id": "other"},
        {"@odata.type": "#microsoft.graph.user"},
        {"id": None},
        {"@odata.type": None},
        b'{"errorCount": NaN}',
        {"displayName": "x"},
    ],
)
async def test_bad_patch_bodies_are_400_and_change_nothing(seeded: App, body: Any) -> None:
    before = await seeded.get_status(SEED_ID)
    assert_graph_error(await seeded.patch_status(SEED_ID, body), 400, "BadRequest")
    after = await seeded.get_status(SEED_ID)
    assert after.headers["ETag"] == before.headers["ETag"]


async def test_a_body_over_64_kib_is_413(seeded: App) -> None:
    body = {"statusMessage": "x" * (64 * 1024)}
    assert_graph_error(await seeded.patch_status(SEED_ID, body), 413)


async def test_twenty_concurrent_patches_with_one_etag_give_one_200(seeded: App) -> None:
    etag = (await seeded.get_status(SEED_ID)).headers["ETag"]
    replies = await asyncio.gather(
        *(seeded.patch_status(SEED_ID, {"errorCount": n}, if_match=etag) for n in range(1, 21))
    )
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200] + [412] * 19
    (winner,) = [reply for reply in replies if reply.status == 200]
    assert (await seeded.get_status(SEED_ID)).json()["errorCount"] == winner.json()["errorCount"]


@pytest.mark.parametrize("if_match", [None, "*"])
async def test_concurrent_patches_without_an_etag_all_land(
    seeded: App, if_match: str | None
) -> None:
    """Without an ETag to match (no If-Match, or `*`) each PATCH merges into the latest
    version: all twenty succeed and no property is lost."""
    bodies = [{"status": "paused"}, {"errorCount": 7}, {"statusMessage": "merged"}]
    bodies += [{"lastActivityDateTime": f"2026-11-22T06:00:{n:02}Z"} for n in range(17)]
    replies = await asyncio.gather(
        *(seeded.patch_status(SEED_ID, body, if_match=if_match) for body in bodies)
    )
    assert [reply.status for reply in replies] == [200] * 20
    body = (await seeded.get_status(SEED_ID)).json()
    assert (body["status"], body["errorCount"], body["statusMessage"]) == ("paused", 7, "merged")


# -- health and outages --------------------------------------------------------------------


async def test_health_before_any_poll_is_503(app: App) -> None:
    reply = await app.health()
    assert reply.status == 503
    assert reply.json()["status"] == "unhealthy"


async def test_health_after_a_clean_poll_is_200_and_shows_no_tenant_data(seeded: App) -> None:
    reply = await seeded.health()
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "healthy"
    (source,) = body["sources"]
    assert source["source"] == "educationSynchronizationProfiles"
    assert source["lastPoll"]["counts"]["listed"] == 1
    assert SEED_ID.encode() not in reply.body
    assert b"Contoso" not in reply.body


def test_only_health_and_the_openapi_document_are_anonymous(app: App) -> None:
    levels = {
        name: function.get_trigger().get_dict_repr()["authLevel"].value
        for name, function in app.functions.items()
        if function.get_trigger().get_binding_name() == "httpTrigger"
    }
    assert levels.pop("health") == "anonymous"
    assert levels.pop("get_openapi_document") == "anonymous"  # describes the API, no data
    # The tenant registry is the deployment's admin's: the master key.
    admin = {name for name, level in levels.items() if level == "admin"}
    assert admin == {
        "list_tenants", "create_tenant", "get_tenant", "update_tenant", "delete_tenant",
        "get_tenant_consent", "create_tenant_key", "list_tenant_keys", "delete_tenant_key",
    }  # fmt: skip
    for name in admin:
        levels.pop(name)
    # A tenant's routes: open to the host, the app checks a key of that tenant (or a sign-in).
    by_app = {name for name in levels if name.startswith("tenant_")}
    assert by_app and {levels.pop(name) for name in by_app} == {"anonymous"}
    assert set(levels) >= {
        "list_synchronization_profiles",
        "get_profile_status",
        "update_profile_status",
        "list_statuses",
        "list_synchronization_jobs",
        "get_synchronization_job",
        "list_industry_data_runs",
        "get_industry_data_run",
        "get_industry_data_run_statistics",
    }
    assert set(levels.values()) == {"function"}


async def test_unreachable_storage_is_503_with_retry_after(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite_connection_string(free_port()))
    composition.reload_settings()
    for reply in (
        await app.get_status(SEED_ID),
        await app.list_profiles(),
        await app.patch_status(SEED_ID, {"status": "paused"}),
    ):
        assert_graph_error(reply, 503, "ServiceUnavailable")
        assert reply.headers["Retry-After"] == "30"
    health = await app.health()
    assert health.status == 503
    assert health.headers["Retry-After"] == "30"
    assert health.json()["storage"] == "unavailable"


async def test_storage_that_refuses_the_app_is_503(
    app: App, monkeypatch: pytest.MonkeyPatch, azurite: Any
) -> None:
    """A wrong key here; in Azure, a role assignment missing or not yet propagated."""
    wrong_key = azurite.connection_string.replace("AccountKey=Eby8", "AccountKey=AAAA")
    monkeypatch.setenv("AzureWebJobsStorage", wrong_key)
    composition.reload_settings()
    reply = await app.get_status(SEED_ID)
    assert_graph_error(reply, 503, "ServiceUnavailable")
    assert reply.headers["Retry-After"] == "30"
    assert (await app.health()).status == 503


async def test_a_missing_setting_is_503_naming_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPH_AUTH", "certificate")
    composition.reload_settings()
    error = assert_graph_error(await app.get_status(SEED_ID), 503, "ServiceNotConfigured")
    assert "GRAPH_AUTH" in error["message"]


async def test_a_bad_request_is_400_even_when_the_app_is_not_configured(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the caller did wrong is said first: the settings are read only when needed."""
    monkeypatch.setenv("GRAPH_AUTH", "certificate")
    composition.reload_settings()
    assert_graph_error(await app.statuses(health="bogus"), 400, "BadRequest")
    assert_graph_error(await app.get_status("a/b"), 400, "BadRequest")
    reply = await app.patch_status(SEED_ID, {"status": "broken"})
    assert_graph_error(reply, 400, "BadRequest")
    assert_graph_error(await app.statuses(), 503, "ServiceNotConfigured")


async def test_a_poll_record_health_cannot_read_is_a_graph_shaped_500(
    seeded: App, app_settings: dict[str, str]
) -> None:
    """A bug or a damaged row: logged, and answered without a stack trace."""
    from azure.data.tables import UpdateMode
    from azure.data.tables.aio import TableClient

    store = composition.services()[1]
    broken = (await store.poll_runs.read_all())[0].to_entity()
    del broken["outcome"]
    table = f"{app_settings['STATUS_TABLE_PREFIX']}PollRuns"
    connection = app_settings["AzureWebJobsStorage"]
    async with TableClient.from_connection_string(connection, table) as client:
        await client.upsert_entity(broken, mode=UpdateMode.REPLACE)
    reply = await seeded.health()
    error = assert_graph_error(reply, 500, "InternalServerError")
    assert "Traceback" not in error["message"] and "outcome" not in error["message"]


async def test_health_is_stale_when_polls_stop_coming(seeded: App) -> None:
    """The timer stopped (or every poll crashes): a green last poll must not hide that."""
    from shared.storage.poll_runs import PollRun

    store = composition.services()[1]
    runs = await store.poll_runs.read_all()
    run = next(run for run in runs if run.source == "educationSynchronizationProfiles")
    await store.poll_runs.save(
        PollRun(
            source=run.source,
            outcome="succeeded",
            started_date_time="2026-01-01T00:00:00.0000000Z",  # POLL_SCHEDULE is every 5 min
            finished_date_time="2026-01-01T00:00:01.0000000Z",
            counts=run.counts,
        )
    )
    reply = await seeded.health()
    assert reply.status == 503
    assert reply.json()["status"] == "unhealthy"
    assert reply.json()["sources"][0]["status"] == "stale"


async def test_a_connection_string_that_is_not_one_is_503_naming_the_setting(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "garbage-with-a-secret")
    composition.reload_settings()
    error = assert_graph_error(await app.get_status(SEED_ID), 503, "ServiceNotConfigured")
    assert "AzureWebJobsStorage" in error["message"]
    assert "secret" not in error["message"]
    health = await app.health()
    assert health.status == 503
    assert "AzureWebJobsStorage" in health.json()["configurationError"]
