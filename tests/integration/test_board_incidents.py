"""Incidents on the board, over the real handlers against Azurite and the simulated tenant:
the board lists the incidents not resolved first (their state and age), each linking to its
page; the page shows the incident and its timeline, and while it is not resolved offers
acknowledge, snooze and resolve as forms that change the incident through the API's
actions (and show on the board at once), guarded as every board form is (a token bound to
viewer, tenant, incident and action; the site); a GET changes nothing; an item under a
maintenance window says so; ids that cannot be used are 4xx pages, never a 500."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from shared import composition
from shared.core.incidents import Incident, IncidentEntry
from shared.core.time import graph_timestamp, parse_timestamp
from shared.http.board.access import Viewer
from shared.http.board.guard import SECRET_NAME, TOKEN_SECONDS, sign
from tests.support.app import App, Reply
from tests.support.samples import SEED

SDS = "educationSynchronizationProfiles"
FORM = "application/x-www-form-urlencoded"
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
KEY = "incident-key"
INCIDENT_ROW = re.compile(r'<tr data-incident="([^"]+)" data-state="(\w+)">(.*?)</tr>', re.S)
ITEM_ROW = re.compile(r'<tr data-health="(\w+)">')


async def broken(app: App, tenant: Any, *ids: str) -> list[dict[str, Any]]:
    """Profiles that broke after their first poll, their incidents open (a real review)."""
    for profile in ids:
        tenant.add_profile(profile, display_name=f"School {profile.upper()}",
                           status={**SEED, "id": profile, "status": "success"})  # fmt: skip
    await app.poll()
    for profile in ids:
        tenant.set_status(profile, status="error", statusMessage=f"CSV of {profile} is bad")
    await app.poll()
    listed = (await app.call("list_incidents", params={"state": "open"})).json()["value"]
    assert sorted(i["itemId"] for i in listed) == sorted(ids)
    return sorted(listed, key=lambda incident: incident["itemId"])


async def page_of(app: App, incident_id: str, **params: str) -> str:
    reply = await app.call("board_incident", params={"id": incident_id, **params})
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/html")
    return reply.body.decode()


def forms_in(page: str) -> dict[str, dict[str, str]]:
    """Each form of the page by its action: its hidden fields, its id and where it posts."""
    found = {}
    for post_to, form_id, inside in re.findall(
        r'<form method="post" action="([^"]*)" class="act" id="(\w+)">(.*?)</form>', page, re.S
    ):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', inside))
        fields = {name: html.unescape(value) for name, value in fields.items()}
        found[fields["action"]] = {**fields, "postTo": html.unescape(post_to), "formId": form_id}
    return found


async def send(app: App, form: dict[str, str], headers: dict[str, str] | None = None,
               **fields: str) -> Reply:  # fmt: skip
    sent = {k: v for k, v in form.items() if k not in ("postTo", "formId")} | fields
    return await app.call("board_incident_action", method="POST", body=urlencode(sent),
                          headers={"Content-Type": FORM, **(headers or SAME_SITE)})  # fmt: skip


async def incident(app: App, incident_id: str) -> Reply:
    return await app.call("get_incident", route_params={"id": incident_id})


async def test_the_board_lists_open_incidents_first_with_their_state_and_age(
    app: App, tenant: Any
) -> None:
    first, second = await broken(app, tenant, "a", "b")
    _settings, store = composition.services()
    since = datetime.now(UTC) - timedelta(hours=3, minutes=12, seconds=30)
    now = graph_timestamp(datetime.now(UTC))
    old = Incident(
        id="old-incident", tenantId=store.scope.tenant_id, source=SDS, itemId="gone",
        displayName="Old <School>", path="/x", state="open", health="warning",
        currentHealth="warning", reason="Stuck since the import.",
        sinceDateTime=graph_timestamp(since), openedDateTime=now, updatedDateTime=now,
        timeline=[IncidentEntry(at=now, kind="opened")],
    )  # fmt: skip
    await store.incidents.write(old, None)
    acked = await app.call("acknowledge_incident", method="POST", body={"by": "Ada"},
                           route_params={"id": second["id"]},
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert acked.status == 200, acked.body
    page = (await app.call("board", params={"code": KEY})).body.decode()
    assert page.index('<section class="incidents"') < page.index("<tr data-health=")
    rows = INCIDENT_ROW.findall(page)
    # Open before acknowledged, errors before warnings.
    assert [(row[0], row[1]) for row in rows] == [
        (first["id"], "open"), ("old-incident", "open"), (second["id"], "acknowledged"),
    ]  # fmt: skip
    shown = {row[0]: row[2] for row in rows}
    assert "<bdi>School A</bdi>" in shown[first["id"]] and "<bdi>open</bdi>" in shown[first["id"]]
    assert "<bdi>Sync failed: CSV of a is bad.</bdi>" in shown[first["id"]]
    assert "<bdi>acknowledged by Ada (function key)</bdi>" in shown[second["id"]]
    assert "3 h 12 min ago</time>" in shown["old-incident"]  # since sinceDateTime, in words
    assert "<bdi>Old &lt;School&gt;</bdi>" in shown["old-incident"]
    assert 'class="health warning"' in shown["old-incident"]
    links = [html.unescape(href) for href in re.findall(r'href="([^"]+)"', shown[first["id"]])]
    assert links == [f"/api/board/incident?id={first['id']}&code={KEY}",
                     f"/api/board/item?source={SDS}&id=a&code={KEY}"]  # fmt: skip
    assert ITEM_ROW.findall(page) == ["error", "error"]  # the items, below


async def test_the_incident_page_shows_the_incident_and_its_timeline_and_a_get_changes_nothing(
    app: App, tenant: Any
) -> None:
    (opened,) = await broken(app, tenant, "a")
    before = await incident(app, opened["id"])
    page = await page_of(app, opened["id"], code=KEY)
    assert "<h1>Error on <bdi>School A</bdi></h1>" in page
    assert "<title>\u2068Error on School A\u2069: SyncStatus</title>" in page
    assert "School Data Sync" in page and "<bdi>Sync failed: CSV of a is bad.</bdi>" in page
    assert f'href="/api/board/item?source={SDS}&amp;id=a&amp;code={KEY}"' in page
    assert 'href="/api/board?code=incident-key">Back to the board' in page
    assert "<dt>Tenant</dt>" in page and "<dt>Opened</dt>" in page
    timeline = page[page.index("<h2>Timeline") :]
    assert re.findall(r'<tr data-entry="(\w+)">', timeline) == ["opened"]
    forms = forms_in(page)
    assert sorted(forms) == ["acknowledge", "resolve", "snooze"]
    assert forms["acknowledge"]["formId"] == "acknowledge"  # the Teams card's #acknowledge
    assert forms["snooze"]["postTo"] == f"/api/board/incident/action?code={KEY}"
    assert 'name="minutes" value="60" min="1" max="10080"' in page
    for _ in range(2):  # asked again: nothing changes
        await page_of(app, opened["id"])
    after = await incident(app, opened["id"])
    assert after.headers["ETag"] == before.headers["ETag"] and after.json() == before.json()


async def test_acknowledge_snooze_and_resolve_through_the_boards_forms(
    app: App, tenant: Any
) -> None:
    (opened,) = await broken(app, tenant, "a")
    board = (await app.call("board")).body.decode()  # kept: the next one must not be stale
    assert [row[1] for row in INCIDENT_ROW.findall(board)] == ["open"]
    forms = forms_in(await page_of(app, opened["id"]))
    done = await send(app, forms["acknowledge"], note="On it: the SIS export")
    assert done.status == 303, done.body
    location = urlsplit(done.headers["Location"])
    assert location.path == "/api/board/incident" and not location.netloc
    assert parse_qs(location.query) == {"id": [opened["id"]], "done": ["acknowledge"]}
    acked = (await incident(app, opened["id"])).json()
    assert (acked["state"], acked["acknowledgedBy"]) == ("acknowledged", "function key (board)")
    assert acked["timeline"][-1]["note"] == "On it: the SIS export"
    board = (await app.call("board")).body.decode()  # at once, not a second later
    assert "<bdi>acknowledged by function key (board)</bdi>" in board
    shown = await page_of(app, opened["id"], done="acknowledge")
    assert "Acknowledged: the incident is shown as it is now." in shown
    assert "<bdi>On it: the SIS export</bdi>" in shown
    assert (await send(app, forms["snooze"], minutes="90")).status == 303
    snoozed = (await incident(app, opened["id"])).json()
    left = parse_timestamp(snoozed["snoozedUntil"]) - datetime.now(UTC)
    assert timedelta(minutes=88) < left <= timedelta(minutes=90)
    assert (await send(app, forms["snooze"], minutes="")).status == 303  # the default
    again = (await incident(app, opened["id"])).json()
    left = parse_timestamp(again["snoozedUntil"]) - datetime.now(UTC)
    assert timedelta(minutes=58) < left <= timedelta(minutes=60)
    assert "snoozed until" in (await app.call("board")).body.decode()
    assert (await send(app, forms["resolve"], note="Fixed the CSV")).status == 303
    resolved = (await incident(app, opened["id"])).json()
    assert (resolved["state"], resolved["resolvedBy"]) == ("resolved", "function key (board)")
    kinds = [entry["kind"] for entry in resolved["timeline"]]
    assert kinds == ["opened", "acknowledged", "snoozed", "snoozed", "resolved"]
    board = (await app.call("board")).body.decode()
    assert INCIDENT_ROW.findall(board) == [] and "None: no item has an incident open." in board
    page = await page_of(app, opened["id"])
    assert forms_in(page) == {} and '<p id="acknowledge" class="notice">Resolved' in page
    late = await send(app, forms["acknowledge"])  # its token still holds: the API says 409
    assert late.status == 409 and "is resolved" in late.body.decode()
    assert "Back to the incident" in late.body.decode()


async def test_an_acknowledgement_through_the_api_is_on_the_board_a_moment_later(
    app: App, tenant: Any
) -> None:
    (opened,) = await broken(app, tenant, "a")
    before = await app.call("board")
    acked = await app.call("acknowledge_incident", method="POST", body={"by": "Grace"},
                           route_params={"id": opened["id"]},
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert acked.status == 200
    for _ in range(50):
        reply = await app.call("board", headers={"If-None-Match": before.headers["ETag"]})
        if reply.status == 200:
            break
        await asyncio.sleep(0.1)
    assert reply.status == 200 and "acknowledged by Grace (function key)" in reply.body.decode()


async def test_a_form_without_its_token_or_from_another_site_changes_nothing(
    app: App, tenant: Any
) -> None:
    first, second = await broken(app, tenant, "a", "b")
    forms = forms_in(await page_of(app, first["id"]))
    other = forms_in(await page_of(app, second["id"]))
    ack = forms["acknowledge"]
    expires, _dot, digest = ack["token"].partition(".")
    before = await incident(app, first["id"])
    refused = [
        {**ack, "token": ""},
        {**ack, "token": f"{expires}.{digest[:-2]}AA"},  # a changed signature
        {**ack, "token": f"{int(expires) + 60}.{digest}"},  # a later expiry, same HMAC
        {**ack, "token": forms["resolve"]["token"]},  # another action's token
        {**ack, "id": second["id"]},  # another incident's form
        {**other["acknowledge"], "id": first["id"]},
    ]
    for fields in refused:
        reply = await send(app, fields)
        assert reply.status == 403 and "This form has expired" in reply.body.decode(), fields
    cross = await send(app, ack, {"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403 and "another site" in cross.body.decode()
    not_a_form = await app.call("board_incident_action", method="POST", body={"id": first["id"]},
                                headers={"Content-Type": "application/json"})  # fmt: skip
    assert not_a_form.status == 400 and not_a_form.headers["Content-Type"].startswith("text/html")
    assert (await send(app, ack, action="pause")).status == 400
    for minutes in ("0", "10081", "soon", "1" * 50):
        bad = await send(app, forms["snooze"], minutes=minutes)
        assert bad.status == 400 and "minutes" in bad.body.decode(), minutes
    assert (await send(app, ack, note="x" * 501)).status == 400
    after = await incident(app, first["id"])
    assert after.headers["ETag"] == before.headers["ETag"]  # nothing changed
    assert (await send(app, ack)).status == 303  # the genuine form still works


async def test_a_bad_id_is_a_4xx_page(app: App, tenant: Any) -> None:
    await broken(app, tenant, "a")
    for params, status in (
        ({"id": "a/b"}, 400), ({}, 400), ({"id": "no-such-incident"}, 404),
        ({"id": "x", "tenantId": "not-a-guid"}, 400),
        ({"id": "x", "tenantId": "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5d"}, 404),
    ):  # fmt: skip
        reply = await app.call("board_incident", params=params)
        assert reply.status == status, (params, reply.body)
        assert reply.headers["Content-Type"].startswith("text/html")
    # A genuine token for an incident that is not there (or no longer): the API's 404.
    _settings, store = composition.services()
    secret = await store.secrets.secret(SECRET_NAME)
    expires = int(datetime.now(UTC).timestamp()) + TOKEN_SECONDS - 5
    token = sign(secret, Viewer(), "home", "no-such", "incident.acknowledge", expires)
    fields = {"id": "no-such", "action": "acknowledge", "token": token}
    missing = await send(app, fields)
    assert missing.status == 404 and "No incident" in missing.body.decode()
    assert (await send(app, {**fields, "id": "a#b"})).status == 400


async def test_an_item_under_a_maintenance_window_is_in_maintenance(app: App, tenant: Any) -> None:
    (opened,) = await broken(app, tenant, "a")
    tenant.add_profile("b", status={**SEED, "id": "b", "status": "success"})
    await app.poll()
    before = await app.call("board")
    assert "in maintenance" not in before.body.decode()
    end = graph_timestamp(datetime.now(UTC) + timedelta(days=2))
    body = {"source": SDS, "itemId": "a", "endDateTime": end, "reason": "Moving to <new> SIS"}
    made = await app.call("create_maintenance_window", method="POST", body=body,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert made.status == 201, made.body
    for _ in range(50):  # a window is no poll: the board's version holds it
        reply = await app.call("board", headers={"If-None-Match": before.headers["ETag"]})
        if reply.status == 200:
            break
        await asyncio.sleep(0.1)
    page = reply.body.decode()
    rows = dict(zip(ITEM_ROW.findall(page), re.split(r"<tr data-health=", page)[1:], strict=True))
    assert "in maintenance until " in rows["error"] and "Moving to &lt;new&gt; SIS" in rows["error"]
    assert "in maintenance" not in rows["healthy"]
    item = await app.call("board_item", params={"source": SDS, "id": "a"})
    assert "In maintenance until " in item.body.decode()
    assert "<bdi>Moving to &lt;new&gt; SIS</bdi>" in item.body.decode()
    assert f"/api/board/incident?id={opened['id']}" in item.body.decode()  # its incident
    other = await app.call("board_item", params={"source": SDS, "id": "b"})
    assert "In maintenance" not in other.body.decode()
    assert "In maintenance until " in await page_of(app, opened["id"])


def principal(name: str) -> str:
    claims = [{"typ": "name", "val": name}]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


async def test_behind_sign_in_the_signed_in_person_acts(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOARD_SIGN_IN_ENABLED", "true")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    composition.reload_settings()
    (opened,) = await broken(app, tenant, "a")
    ada = {"X-MS-CLIENT-PRINCIPAL": principal("Ada Lovelace")}
    reply = await app.call("board_incident", params={"id": opened["id"]}, headers=ada)
    forms = forms_in(reply.body.decode())
    grace = {"X-MS-CLIENT-PRINCIPAL": principal("Grace Hopper"), **SAME_SITE}
    assert (await send(app, forms["acknowledge"], grace)).status == 403  # Ada's form
    assert (await send(app, forms["acknowledge"])).status == 401  # nobody signed in
    assert (await send(app, forms["acknowledge"], {**ada, **SAME_SITE})).status == 303
    acked = (await incident(app, opened["id"])).json()
    assert acked["acknowledgedBy"] == "Ada Lovelace"
    named = {**ada, **SAME_SITE, "X-MS-CLIENT-PRINCIPAL-NAME": "ada@contoso.example"}
    assert (await send(app, forms["resolve"], named)).status == 303  # as the API names her
    assert (await incident(app, opened["id"])).json()["resolvedBy"] == "ada@contoso.example"


SCHOOL = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.usefixtures("simulated_auth")
async def test_across_tenants_the_overview_lists_them_and_a_form_acts_on_its_own_tenant(
    app: App, tenant: Any
) -> None:
    tenant.add_profile("home-ok", status={**SEED, "id": "home-ok", "status": "success"})
    school = tenant.add_tenant(SCHOOL, display_name="Northwind")
    school.add_profile("broken", display_name="Broken School",
                       status={**SEED, "id": "broken", "status": "error"})  # fmt: skip
    made = await app.call("create_tenant", method="POST",
                          body={"tenantId": SCHOOL, "displayName": "North\u202ewind"},
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert made.status == 201, made.body
    await app.poll()
    (listed,) = (await app.call("list_incidents")).json()["value"]
    assert (listed["tenantId"], listed["itemId"]) == (SCHOOL, "broken")
    overview = (await app.call("board", params={"code": KEY})).body.decode()
    ((shown_id, state, row),) = INCIDENT_ROW.findall(overview)
    assert (shown_id, state) == (listed["id"], "open")
    assert "<bdi>North\u202ewind</bdi>" in row and "<bdi>Broken School</bdi>" in row
    to = f'href="/api/board/incident?tenantId={SCHOOL}&amp;id={listed["id"]}&amp;code={KEY}"'
    assert to in row
    tenants = dict(zip(re.findall(r'<tr data-tenant="([^"]+)"', overview),
                       re.split(r"<tr data-tenant=", overview)[1:], strict=True))  # fmt: skip
    assert 'data-label="Open incidents">1</td>' in tenants[SCHOOL]
    assert 'data-label="Open incidents">0</td>' in tenants[tenant.tenant_id]
    assert (await app.call("board_incident", params={"id": listed["id"]})).status == 404
    page = await page_of(app, listed["id"], tenantId=SCHOOL)
    assert "<bdi>North\u202ewind</bdi>" in page
    forms = forms_in(page)
    assert forms["acknowledge"]["tenantId"] == SCHOOL
    home = await send(app, {**forms["acknowledge"], "tenantId": "home"})
    assert home.status == 403  # its token binds the school
    done = await send(app, forms["acknowledge"])
    assert done.status == 303, done.body
    assert parse_qs(urlsplit(done.headers["Location"]).query)["tenantId"] == [SCHOOL]
    overview = (await app.call("board", params={"code": KEY})).body.decode()
    assert [state for _id, state, _row in INCIDENT_ROW.findall(overview)] == ["acknowledged"]
    board = (await app.call("board", params={"tenantId": SCHOOL})).body.decode()
    assert [state for _id, state, _row in INCIDENT_ROW.findall(board)] == ["acknowledged"]
