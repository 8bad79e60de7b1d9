"""Many tenants, over the real handlers against Azurite and the simulated Graph (which tells
tenants apart by the token's tid): the registry's routes and their errors, a round that
polls every tenant with its own token and rows, the consent state Entra's and Graph's
refusals leave (never an outage of the other tenants), and removing a tenant with purge."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared import composition
from shared.core.tenancy import TenantScope
from tests.support.app import App, Reply
from tests.support.samples import SEED
from tools.processes import free_port

SDS = "educationSynchronizationProfiles"
SCHOOL = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5b"
SHOP = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5c"
NOWHERE = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5d"


async def add(app: App, tenant_id: str, name: str, **more: Any) -> Reply:
    body = {"tenantId": tenant_id, "displayName": name, **more}
    return await app.call("create_tenant", method="POST", body=body,
                          headers={"Content-Type": "application/json"})  # fmt: skip


async def tenants(app: App) -> list[dict[str, Any]]:
    reply = await app.call("list_tenants")
    assert reply.status == 200, reply.body
    return reply.json()["value"]


def error_of(reply: Reply) -> tuple[int, str]:
    return reply.status, reply.json()["error"]["code"]


async def test_the_registry_adds_lists_changes_and_refuses_in_graphs_shape(
    app: App, simulated_auth: None, tenant: Any
) -> None:
    (home,) = await tenants(app)
    assert (home["tenantId"], home["home"], home["enabled"]) == (tenant.tenant_id, True, True)
    added = await add(app, SCHOOL.upper(), "Northwind Academy Trust",
                      sources={"industryDataRuns": {"enabled": True}})  # fmt: skip
    assert added.status == 201, added.body
    assert added.headers["Location"].endswith(f"/api/tenants/{SCHOOL}")  # kept in lower case
    assert [t["displayName"] for t in await tenants(app)] == [
        "Home tenant",
        "Northwind Academy Trust",
    ]
    assert error_of(await add(app, SCHOOL, "Again")) == (409, "Conflict")
    assert error_of(await add(app, tenant.tenant_id, "Home")) == (409, "Conflict")
    assert error_of(await add(app, "not-a-guid", "X")) == (400, "BadRequest")
    unknown = await add(app, SHOP, "X", sources={"nope": {"enabled": True}})
    assert error_of(unknown) == (400, "BadRequest") and "nope" in unknown.json()["error"]["message"]
    option = await add(app, SHOP, "X", sources={SDS: {"options": {"GRAPH_AUTH": "none"}}})
    assert option.status == 400 and option.json()["error"]["target"].endswith("GRAPH_AUTH")
    value = await add(app, SHOP, "X", sources={"directorySynchronization": {
        "options": {"DIRECTORY_SYNC_STALE_AFTER_MINUTES": "soon"}}})  # fmt: skip
    assert value.status == 400 and "DIRECTORY_SYNC_STALE_AFTER_MINUTES" in value.body.decode()
    got = await app.call("get_tenant", route_params={"tenantId": SCHOOL})
    assert got.status == 200 and got.headers["ETag"]
    stale = await app.call("update_tenant", method="PATCH", route_params={"tenantId": SCHOOL},
                           headers={"Content-Type": "application/json", "If-Match": 'W/"x"'},
                           body={"displayName": "Renamed"})  # fmt: skip
    assert error_of(stale) == (412, "PreconditionFailed")
    renamed = await app.call("update_tenant", method="PATCH", route_params={"tenantId": SCHOOL},
                             headers={"Content-Type": "application/json",
                                      "If-Match": got.headers["ETag"]},
                             body={"displayName": "Renamed", "enabled": False})  # fmt: skip
    assert renamed.status == 200, renamed.body
    assert (renamed.json()["displayName"], renamed.json()["enabled"]) == ("Renamed", False)
    assert renamed.json()["sources"] == {"industryDataRuns": {"enabled": True, "options": {}}}
    missing = await app.call("get_tenant", route_params={"tenantId": SHOP})
    assert error_of(missing) == (404, "ResourceNotFound")
    home_delete = await app.call("delete_tenant", method="DELETE",
                                 route_params={"tenantId": "home"})  # fmt: skip
    assert error_of(home_delete) == (409, "Conflict")


async def test_a_round_polls_each_tenant_with_its_own_token_and_rows(
    app: App, simulated_auth: None, tenant: Any
) -> None:
    tenant.add_profile("home-school", status={**SEED, "id": "home-school", "status": "success"})
    school = tenant.add_tenant(SCHOOL, display_name="Northwind Academy Trust")
    school.add_profile("trust-school", status={**SEED, "id": "trust-school", "status": "error"})
    shop = tenant.add_tenant(SHOP, consented=False)
    shop.add_profile("never-seen", status={**SEED, "id": "never-seen"})
    for tenant_id, name in ((SCHOOL, "Northwind"), (SHOP, "Tailspin"), (NOWHERE, "Gone")):
        assert (await add(app, tenant_id, name)).status == 201
    await app.poll()
    _settings, store = composition.services()
    home_rows = [e.id for e in await store.statuses.summaries([SDS])]
    school_store = store.for_tenant(TenantScope(SCHOOL))
    school_rows = [e.id for e in await school_store.statuses.summaries([SDS])]
    assert (home_rows, school_rows) == (["home-school"], ["trust-school"])
    assert await store.for_tenant(TenantScope(SHOP)).statuses.summaries([SDS]) == []
    consent = {t["tenantId"]: t["consent"] for t in await tenants(app)}
    assert consent[tenant.tenant_id]["state"] == "consented"
    assert consent[SCHOOL]["state"] == "consented"
    assert (consent[SHOP]["state"], consent[SHOP]["code"]) == ("consentNeeded", "AADSTS65001")
    assert (consent[NOWHERE]["state"], consent[NOWHERE]["code"]) == ("unavailable", "AADSTS90002")
    health = await app.health()
    assert health.status == 200  # the home tenant's sources are fine; the others' counted
    assert health.json()["tenants"] == {
        "count": 4, "byConsent": {"consentNeeded": 1, "consented": 2, "unavailable": 1},
    }  # fmt: skip
    shown = await app.call("get_tenant_consent", route_params={"tenantId": SHOP})
    assert shown.status == 409  # GRAPH_APP_CLIENT_ID not set: no app to consent to
    # Consent given: the next round reads the tenant, and says so.
    tenant.set_consented(SHOP, True)
    await app.poll()
    consent = {t["tenantId"]: t["consent"] for t in await tenants(app)}
    assert consent[SHOP]["state"] == "consented"
    rows = await store.for_tenant(TenantScope(SHOP)).statuses.summaries([SDS])
    assert [e.id for e in rows] == ["never-seen"]


async def test_the_consent_link_names_the_tenant_and_the_multi_tenant_app(
    app: App, simulated_auth: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_id = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    monkeypatch.setenv("GRAPH_APP_CLIENT_ID", app_id)
    composition.reload_settings()
    assert (await add(app, SHOP, "Tailspin Toys")).status == 201
    reply = await app.call("get_tenant_consent", route_params={"tenantId": SHOP})
    assert reply.status == 200, reply.body
    url = reply.json()["consentUrl"]
    assert url.startswith(f"https://login.microsoftonline.com/{SHOP}/adminconsent?")
    assert f"client_id={app_id}" in url
    assert reply.json()["consent"]["state"] == "unknown"


async def test_without_a_token_per_tenant_only_the_home_tenant_is_polled(
    app: App, tenant: Any
) -> None:
    tenant.add_profile("home-school", status={**SEED, "id": "home-school"})
    assert (await add(app, SCHOOL, "Northwind")).status == 201  # GRAPH_AUTH=none here
    await app.poll()
    consent = {t["tenantId"]: t["consent"] for t in await tenants(app)}
    assert (consent[SCHOOL]["state"], consent[SCHOOL]["code"]) == ("unavailable", "graphAuth")
    assert "GRAPH_AUTH=none" in consent[SCHOOL]["message"]
    assert [r["id"] for r in (await app.statuses()).json()["value"]] == ["home-school"]


async def test_removing_a_tenant_with_purge_leaves_none_of_its_rows(
    app: App, simulated_auth: None, tenant: Any, insecure_webhooks: None
) -> None:
    school = tenant.add_tenant(SCHOOL)
    school.add_profile("trust-school", status={**SEED, "id": "trust-school", "status": "error"})
    tenant.add_profile("home-school", status={**SEED, "id": "home-school"})
    assert (await add(app, SCHOOL, "Northwind")).status == 201
    await app.poll()
    # Its own subscription and an every-tenant one, both unreachable: the events wait.
    nowhere = f"http://127.0.0.1:{free_port()}/hook"
    body, json_type = {"notificationUrl": nowhere}, {"Content-Type": "application/json"}
    own = await app.call("tenant_create_subscription", method="POST", body=body,
                         route_params={"tenantId": SCHOOL},
                         headers={**json_type, **await key_of(app, SCHOOL)})  # fmt: skip
    every = await app.call("create_subscription", method="POST", body=body, headers=json_type)
    assert (own.status, every.status) == (201, 201)
    school.set_status("trust-school", status="success")
    await app.poll()  # a change: history too, and an event for each subscription
    _settings, store = composition.services()
    assert len(await store.outbox.read(every.json()["id"], 10)) == 1
    removed = await app.call("delete_tenant", method="DELETE", route_params={"tenantId": SCHOOL},
                             params={"purge": "true"})  # fmt: skip
    assert removed.status == 200, removed.body
    counts = removed.json()["removed"]
    assert counts["tenants"] == 1 and counts["statuses"] == 1 and counts["history"] == 2
    assert counts["state"] >= 1  # its poll records
    assert (counts["keys"], counts["subscriptions"], counts["events"]) == (1, 1, 1)
    assert await store.outbox.read(every.json()["id"], 10) == []  # its event, not the sub
    assert await store.outbox.read(own.json()["id"], 10) == []
    assert [s["id"] for s in (await app.call("list_subscriptions")).json()["value"]] == [
        every.json()["id"]
    ]
    assert await store.for_tenant(TenantScope(SCHOOL)).statuses.summaries([SDS]) == []
    assert [r["id"] for r in (await app.statuses()).json()["value"]] == ["home-school"]
    again = await app.call("get_tenant", route_params={"tenantId": SCHOOL})
    assert again.status == 404
    bad = await app.call("delete_tenant", method="DELETE", route_params={"tenantId": SHOP},
                         params={"purge": "maybe"})  # fmt: skip
    assert bad.status == 400


async def two_tenants_polled(app: App, tenant: Any) -> None:
    tenant.add_profile("home-a", status={**SEED, "id": "home-a", "status": "success"})
    tenant.add_profile("home-b", status={**SEED, "id": "home-b", "status": "error"})
    school = tenant.add_tenant(SCHOOL)
    school.add_profile("trust-a", status={**SEED, "id": "trust-a", "status": "error"})
    assert (await add(app, SCHOOL, "Northwind")).status == 201
    await app.poll()


async def key_of(app: App, tenant_id: str) -> dict[str, str]:
    """A new key of the tenant, as the header that presents it."""
    made = await app.call("create_tenant_key", method="POST", route_params={"tenantId": tenant_id},
                          headers={"Content-Type": "application/json"}, body={"name": "flow"})  # fmt: skip
    assert made.status == 201, made.body
    return {"x-functions-key": made.json()["key"]}


async def every_page(
    app: App, name: str, headers: dict[str, str] | None = None, **params: str
) -> list[dict[str, Any]]:
    """Every row, following the next links."""
    rows: list[dict[str, Any]] = []
    query = dict(params)
    route = {"tenantId": query.pop("routeTenant")} if "routeTenant" in query else None
    while True:
        reply = await app.call(name, params=query, route_params=route, headers=headers)
        assert reply.status == 200, reply.body
        rows += reply.json()["value"]
        link = reply.json().get("@odata.nextLink")
        if not link:
            return rows
        query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}


async def test_statuses_go_across_tenants_each_row_saying_whose(
    app: App, simulated_auth: None, tenant: Any
) -> None:
    await two_tenants_polled(app, tenant)
    rows = await every_page(app, "list_statuses", **{"$top": "1"})  # a page per row
    assert sorted((r["tenantId"], r["id"]) for r in rows) == sorted([
        (tenant.tenant_id, "home-a"), (tenant.tenant_id, "home-b"), (SCHOOL, "trust-a"),
    ])  # fmt: skip
    (trust,) = [r for r in rows if r["tenantId"] == SCHOOL]
    assert trust["path"].startswith(f"/api/tenants/{SCHOOL}/education/")
    narrowed = await every_page(app, "list_statuses", tenantId=SCHOOL, health="error")
    assert [(r["tenantId"], r["id"]) for r in narrowed] == [(SCHOOL, "trust-a")]
    unknown = await app.call("list_statuses", params={"tenantId": SHOP})
    assert unknown.status == 404
    scoped = await every_page(
        app, "tenant_list_statuses", await key_of(app, SCHOOL), routeTenant=SCHOOL
    )
    assert [r["id"] for r in scoped] == ["trust-a"]
    home = await every_page(
        app, "tenant_list_statuses", await key_of(app, "home"), routeTenant="home"
    )
    assert sorted(r["id"] for r in home) == ["home-a", "home-b"]


async def test_a_tenants_routes_see_its_own_items_and_subscriptions_alone(
    app: App, simulated_auth: None, tenant: Any, receiver: Any, insecure_webhooks: None
) -> None:
    await two_tenants_polled(app, tenant)
    own = {"tenantId": SCHOOL, "id": "trust-a"}
    school_key, home_key = await key_of(app, SCHOOL), await key_of(app, "home")
    mine = await app.call("tenant_get_profile_status", route_params=own, headers=school_key)
    assert mine.status == 200, mine.body
    theirs = await app.call("tenant_get_profile_status", headers=school_key,
                            route_params={"tenantId": SCHOOL, "id": "home-a"})  # fmt: skip
    assert theirs.status == 404
    history = await app.call("tenant_get_status_history", headers=school_key,
                             route_params={**own, "source": SDS})  # fmt: skip
    assert [c["tenantId"] for c in history.json()["value"]] == [SCHOOL]
    made = await app.call("tenant_create_subscription", method="POST",
                          route_params={"tenantId": SCHOOL},
                          headers={"Content-Type": "application/json", **school_key},
                          body={"notificationUrl": receiver.url})  # fmt: skip
    assert made.status == 201, made.body
    subscription = made.json()
    assert subscription["tenantId"] == SCHOOL
    listed = await app.call("tenant_list_subscriptions", route_params={"tenantId": "home"},
                            headers=home_key)  # fmt: skip
    assert listed.json()["value"] == []
    hidden = await app.call("tenant_get_subscription", headers=home_key,
                            route_params={"tenantId": "home", "id": subscription["id"]})  # fmt: skip
    assert hidden.status == 404
    # Changes in both tenants: the subscription hears of its tenant's alone.
    tenant.set_status("home-a", status="error")
    tenant.tenants[SCHOOL].set_status("trust-a", status="success")
    await app.poll()
    assert [(e["tenantId"], e["id"]) for e in receiver.events] == [(SCHOOL, "trust-a")]


# -- access: a tenant's key opens that tenant's routes and nothing else --------------------

SAMPLES = {"servicePrincipalId": SCHOOL, "jobId": "scim.a", "id": "trust-a", "source": SDS}


async def test_every_tenant_route_with_another_tenants_key_is_a_404_never_the_data(
    app: App, simulated_auth: None, tenant: Any
) -> None:
    await two_tenants_polled(app, tenant)
    home_key, school_key = await key_of(app, "home"), await key_of(app, SCHOOL)
    scoped = sorted(name for name in app.functions if name.startswith("tenant_"))
    assert len(scoped) >= 20  # every route of today, again under the tenant's
    for name in scoped:
        route, methods = app.route_of(name)
        params = {"tenantId": SCHOOL} | {k: v for k, v in SAMPLES.items() if "{" + k + "}" in route}
        headers = {"Content-Type": "application/json"}
        body = {} if methods[0] in ("POST", "PATCH") else None
        foreign = await app.call(name, method=methods[0], route_params=params,
                                 headers={**headers, **home_key}, body=body)  # fmt: skip
        assert foreign.status == 404, (name, foreign.status, foreign.body[:200])
        assert b"trust-a" not in foreign.body
        assert SCHOOL.encode() in foreign.body  # the tenant named, as for an unknown one
        bare = await app.call(name, method=methods[0], route_params=params,
                              headers=headers, body=body)  # fmt: skip
        assert bare.status == 401, (name, bare.status)
        forged = await app.call(name, method=methods[0], route_params=params, body=body,
                                headers={**headers, "x-functions-key": "anything"})  # fmt: skip
        assert forged.status == 401, (name, forged.status)
    own = await app.call(
        "tenant_list_statuses",
        route_params={"tenantId": SCHOOL},
        params={"code": school_key["x-functions-key"]},
    )  # ?code= works too
    assert [row["id"] for row in own.json()["value"]] == ["trust-a"]


async def test_a_revoked_key_opens_nothing_and_keys_are_kept_as_digests(
    app: App, simulated_auth: None, tenant: Any
) -> None:
    await two_tenants_polled(app, tenant)
    school_key = await key_of(app, SCHOOL)
    listed = await app.call("list_tenant_keys", route_params={"tenantId": SCHOOL})
    (kept,) = listed.json()["value"]
    assert set(kept) == {"id", "tenantId", "name", "createdDateTime"}  # never the key
    _settings, store = composition.services()
    (row,) = await store.tenant_keys.of_tenant(SCHOOL)
    assert school_key["x-functions-key"] not in str(row) and len(row.sha256) == 64
    route = {"tenantId": SCHOOL}
    assert (await app.call("tenant_list_statuses", route_params=route,
                           headers=school_key)).status == 200  # fmt: skip
    revoked = await app.call("delete_tenant_key", method="DELETE",
                             route_params={**route, "keyId": kept["id"]})  # fmt: skip
    assert revoked.status == 204
    after = await app.call("tenant_list_statuses", route_params=route, headers=school_key)
    assert after.status == 404
    again = await app.call("delete_tenant_key", method="DELETE",
                           route_params={**route, "keyId": kept["id"]})  # fmt: skip
    assert again.status == 404


async def test_behind_sign_in_a_tenants_group_opens_that_tenant_alone(
    app: App, simulated_auth: None, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import json

    group = "7c9e1f2a-3b4d-4c5e-9f6a-7b8c9d0e1f2a"
    await two_tenants_polled(app, tenant)
    changed = await app.call("update_tenant", method="PATCH", route_params={"tenantId": SCHOOL},
                             headers={"Content-Type": "application/json"},
                             body={"groups": [group.upper()]})  # fmt: skip
    assert changed.json()["groups"] == [group]
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    composition.reload_settings()
    claims = [{"typ": "name", "val": "Ada"}, {"typ": "groups", "val": group}]
    principal = base64.b64encode(json.dumps({"claims": claims}).encode()).decode()
    signed = {"X-MS-CLIENT-PRINCIPAL": principal}
    mine = await app.call("tenant_list_statuses", route_params={"tenantId": SCHOOL},
                          headers=signed)  # fmt: skip
    assert [row["id"] for row in mine.json()["value"]] == ["trust-a"]
    other = await app.call("tenant_list_statuses", route_params={"tenantId": "home"},
                           headers=signed)  # fmt: skip
    assert other.status == 404


async def test_a_job_action_on_a_tenants_route_reaches_that_tenant_with_its_token(
    app: App, simulated_auth: None, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools import graph_tenant as graph

    sp = "3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c1d"
    for name, value in (("PROVISIONING_ACTIONS_ENABLED", "true"),
                        ("PROVISIONING_JOBS_ENABLED", "true"),
                        ("PROVISIONING_SERVICE_PRINCIPAL_IDS", sp)):  # fmt: skip
        monkeypatch.setenv(name, value)
    composition.reload_settings()
    school = tenant.add_tenant(SCHOOL)
    school.add_service_principal(sp, display_name="Canvas LMS")
    job_id = school.add_job(sp, template_id="scim", status=graph.quarantined_job_status())
    assert (await add(app, SCHOOL, "Northwind")).status == 201
    await app.poll()
    school_key = await key_of(app, SCHOOL)
    reply = await app.call(
        "tenant_restart_synchronization_job", method="POST",
        route_params={"tenantId": SCHOOL, "servicePrincipalId": sp, "jobId": job_id},
        headers={"Content-Type": "application/json", **school_key},
    )  # fmt: skip
    assert reply.status == 202, reply.body
    assert [a["action"] for a in school.job_actions] == ["restart"]
    assert tenant.job_actions == []  # the home tenant was never asked
    _settings, store = composition.services()
    row = await store.for_tenant(TenantScope(SCHOOL)).statuses.get(
        "synchronizationJobs", f"{sp}:{job_id}"
    )
    assert row is not None and row.status == "Active"
