"""The board across tenants, over the real handlers against Azurite and the simulated Graph
(which tells tenants apart by the token's tid): with the home tenant alone the board is as it
always was; with more, ``/api/board`` is an overview of the tenants, worst first with their
consent state, each linking to its own board (``?tenantId=``), whose links keep the tenant;
an item's page and a job's form are the tenant's, a form's token holds for its tenant alone;
each tenant's pages are rendered once per version of its own data; and behind App Service
Authentication a person sees the tenants of their groups, another tenant being a 404."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from shared import composition
from shared.core.tenancy import TenantScope
from shared.storage.items import ItemUpdate, merge_write
from tests.support.app import App, Reply
from tests.support.samples import SEED
from tools import graph_tenant as graph

SDS = "educationSynchronizationProfiles"
JOBS = "synchronizationJobs"
SP = "8d4f3b6b-0e1a-4f5c-9b7d-4a5b6c7d8e01"
SCHOOL = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5b"
SHOP = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5c"
NOWHERE = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5d"
TEACHERS = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b01"  # the school's technicians
SHOPKEEPERS = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b02"
STAFF = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b03"  # BOARD_ALLOWED_GROUP_ID: every tenant
RLO = "\u202e"
KEY = "board-key"
ROW = re.compile(r'<tr data-health="(\w+)">')
TENANT_ROW = re.compile(r'<tr data-tenant="([^"]+)"')


pytestmark = pytest.mark.usefixtures("simulated_auth")


async def add(app: App, tenant_id: str, name: str, **more: Any) -> None:
    body = {"tenantId": tenant_id, "displayName": name, **more}
    reply = await app.call("create_tenant", method="POST", body=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert reply.status == 201, reply.body


async def board(app: App, headers: dict[str, str] | None = None, **params: str) -> Reply:
    return await app.call("board", params=params, headers=headers)


async def item(app: App, headers: dict[str, str] | None = None, **params: str) -> Reply:
    return await app.call("board_item", params=params, headers=headers)


def hrefs(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', page)]


def query_of(href: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}


async def three_tenants(app: App, tenant: Any, **groups: list[str]) -> None:
    """The home tenant (one healthy profile), Northwind's school trust (an error and a
    warning; its name with a right-to-left override) and Tailspin, not consented yet."""
    tenant.add_profile("home-ok", display_name="Home School",
                       status={**SEED, "id": "home-ok", "status": "success"})  # fmt: skip
    school = tenant.add_tenant(SCHOOL, display_name="Northwind")
    school.add_profile("broken", display_name="Broken School",
                       status={**SEED, "id": "broken", "status": "error"})  # fmt: skip
    school.add_profile("paused", display_name="Paused School",
                       status={**SEED, "id": "paused", "status": "paused"})  # fmt: skip
    shop = tenant.add_tenant(SHOP, consented=False)
    shop.add_profile("never", status={**SEED, "id": "never"})
    await add(app, SCHOOL, f"North{RLO}wind", groups=groups.get("school", []))
    await add(app, SHOP, "Tailspin Toys", groups=groups.get("shop", []))
    await app.poll()


async def test_with_the_home_tenant_alone_the_board_is_as_it_was(app: App, tenant: Any) -> None:
    tenant.add_profile("ok", display_name="Good School",
                       status={**SEED, "id": "ok", "status": "success"})  # fmt: skip
    tenant.add_profile("bad", status={**SEED, "id": "bad", "status": "error"})
    await app.poll()
    page = (await board(app, code=KEY)).body.decode()
    assert ROW.findall(page) == ["error", "healthy"]  # the items, not an overview
    assert "All tenants" not in page and "data-tenant" not in page
    assert "<title>SyncStatus: 1 of 2 need attention</title>" in page
    links = hrefs(page)
    assert links and all(query_of(href)["code"] == KEY for href in links)
    assert not any("tenantId" in href for href in links)
    detail = (await item(app, source=SDS, id="bad", code=KEY)).body.decode()
    assert 'href="/api/board?code=board-key"' in detail  # back, as it always was
    # The home tenant named: its board, the same rows, the links keeping it.
    named = (await board(app, tenantId="home", code=KEY)).body.decode()
    assert ROW.findall(named) == ["error", "healthy"] and "All tenants" not in named
    assert all(query_of(href)["tenantId"] == tenant.tenant_id for href in hrefs(named))


async def test_the_overview_lists_the_tenants_worst_first_with_their_consent(
    app: App, tenant: Any
) -> None:
    await three_tenants(app, tenant)
    reply = await board(app, code=KEY)
    assert reply.status == 200, reply.body
    page = reply.body.decode()
    # Tailspin cannot be read (consent needed), Northwind has an error, home is healthy.
    assert TENANT_ROW.findall(page) == [SHOP, SCHOOL, tenant.tenant_id]
    assert ROW.findall(page) == []  # no item of any tenant on it
    assert "<title>SyncStatus: 2 of 3 tenants need attention</title>" in page
    rows = dict(zip(TENANT_ROW.findall(page), re.split(r"<tr data-tenant=", page)[1:], strict=True))
    assert "consent needed" in rows[SHOP] and "<bdi>AADSTS65001</bdi>" in rows[SHOP]
    assert "consented" in rows[SCHOOL] and "2 <span" in rows[SCHOOL]  # two need attention
    assert "(1 error, 1 warning)" in rows[SCHOOL] and 'class="health error"' in rows[SCHOOL]
    assert "Polling OK, last poll at" in rows[SCHOOL]  # from its own poll records
    assert f"<bdi>North{RLO}wind</bdi>" in page  # the name, isolated
    assert RLO not in re.sub(r"<bdi>[^<]*</bdi>", "", page)
    assert (
        "1 healthy" in rows[tenant.tenant_id] and "<bdi>Home tenant</bdi>" in rows[tenant.tenant_id]
    )
    links = {query_of(href).get("tenantId"): href for href in hrefs(page)}
    assert links[SCHOOL] == f"/api/board?tenantId={SCHOOL}&code={KEY}"
    assert set(links) == {SHOP, SCHOOL, tenant.tenant_id, None}  # None: Refresh
    again = await board(app, code=KEY, headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304  # nothing changed: the same page


async def test_a_tenants_board_shows_its_items_alone_and_every_link_keeps_it(
    app: App, tenant: Any
) -> None:
    await three_tenants(app, tenant)
    page = (await board(app, tenantId=SCHOOL.upper(), code=KEY)).body.decode()
    assert ROW.findall(page) == ["error", "warning"]
    assert "Broken School" in page and "Home School" not in page
    assert f"<title>SyncStatus: \u2068North{RLO}wind\u2069: 2 of 2 need attention" in page
    assert f"<h1>SyncStatus: <bdi>North{RLO}wind</bdi></h1>" in page
    links = hrefs(page)
    overview = [href for href in links if "tenantId" not in href]
    assert overview == [f"/api/board?code={KEY}"]  # All tenants
    kept = [query_of(href) for href in links if href not in overview]
    assert kept and all((q["tenantId"], q["code"]) == (SCHOOL, KEY) for q in kept)
    assert f"/api/statuses?tenantId={SCHOOL}&code={KEY}" in links  # the JSON: its own rows
    filtered = (await board(app, tenantId=SCHOOL, health="error", code=KEY)).body.decode()
    assert ROW.findall(filtered) == ["error"]
    detail = await item(app, tenantId=SCHOOL, source=SDS, id="broken", code=KEY)
    assert detail.status == 200, detail.body
    assert f'href="/api/board?tenantId={SCHOOL}&amp;code={KEY}">Back to the board' in (
        detail.body.decode()
    )
    # Another tenant's item through this tenant's page: none here.
    assert (await item(app, tenantId=SCHOOL, source=SDS, id="home-ok")).status == 404
    assert (await item(app, source=SDS, id="broken")).status == 404  # the home tenant's
    home = (await item(app, source=SDS, id="home-ok", code=KEY)).body.decode()
    back = f'href="/api/board?tenantId={tenant.tenant_id}&amp;code={KEY}">Back to the board'
    assert back in home  # an old link, without tenantId: back to the home tenant's board
    assert (await board(app, tenantId=NOWHERE)).status == 404
    unknown = await item(app, tenantId=NOWHERE, source=SDS, id="broken")
    assert unknown.status == 404 and unknown.headers["Content-Type"].startswith("text/html")
    assert (await board(app, tenantId="not-a-guid")).status == 400
    assert (await item(app, tenantId="school", source=SDS, id="broken")).status == 400


async def test_each_tenants_board_is_rendered_once_per_version_of_its_own_data(
    app: App, tenant: Any, renders: list[str]
) -> None:
    await three_tenants(app, tenant)
    school = await board(app, tenantId=SCHOOL)
    home = await board(app, tenantId="home")
    assert [await board(app, tenantId=SCHOOL) for _ in range(3)][-1].body == school.body
    assert renders.count("board.html") == 2  # one render per tenant
    # What a PATCH does: one of the school's items written.
    _settings, store = composition.services()
    rows = store.for_tenant(TenantScope(SCHOOL)).statuses
    (broken,) = [e for e in await rows.summaries([SDS]) if e.id == "broken"]
    update = ItemUpdate(health=(broken.health or "unknown", "Written meanwhile."))
    assert (await rows.write([merge_write(broken, update)])).written == 1
    for _ in range(50):
        changed = await board(
            app, tenantId=SCHOOL, headers={"If-None-Match": school.headers["ETag"]}
        )
        if changed.status == 200:
            break
        await asyncio.sleep(0.1)
    assert changed.status == 200 and "Written meanwhile." in changed.body.decode()
    same = await board(app, tenantId="home", headers={"If-None-Match": home.headers["ETag"]})
    assert same.status == 304  # the home tenant's data did not change
    assert renders.count("board.html") == 3  # the school's board again, not the home's


async def test_a_form_acts_on_its_own_tenants_job_and_its_token_holds_there_alone(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("SDS_PROFILES_ENABLED", "false"), ("PROVISIONING_JOBS_ENABLED", "true"),
                        ("PROVISIONING_SERVICE_PRINCIPAL_IDS", SP),
                        ("PROVISIONING_ACTIONS_ENABLED", "true")):  # fmt: skip
        monkeypatch.setenv(name, value)
    composition.reload_settings()
    job = "scim.0123456789abcdef.fedcba9876543210"  # the same job id in both tenants
    tenant.add_job(SP, job, status=graph.quarantined_job_status())
    school = tenant.add_tenant(SCHOOL, display_name="Northwind")
    school.add_job(SP, job, status=graph.quarantined_job_status())
    await add(app, SCHOOL, "Northwind")
    await app.poll()
    item_id = f"{SP}:{job}"
    page = (await item(app, tenantId=SCHOOL, source=JOBS, id=item_id)).body.decode()
    forms = forms_in(page)
    assert forms["restart"]["tenantId"] == SCHOOL
    home_form = forms_in((await item(app, source=JOBS, id=item_id)).body.decode())["restart"]
    assert home_form["tenantId"] == tenant.tenant_id  # asked without it: the home tenant's
    # The home tenant's token sent for the school's job, and the school's for the home's.
    for fields in ({**home_form, "tenantId": SCHOOL}, {**forms["restart"], "tenantId": "home"},
                   {k: v for k, v in forms["restart"].items() if k != "tenantId"}):  # fmt: skip
        refused = await send(app, fields)
        assert refused.status == 403 and "This form has expired" in refused.body.decode()
    assert (await send(app, {**forms["restart"], "tenantId": NOWHERE})).status == 404
    assert tenant.job_actions == [] and school.job_actions == []
    done = await send(app, forms["restart"])
    assert done.status == 303, done.body
    assert query_of(done.headers["Location"]) == {"tenantId": SCHOOL, "source": JOBS,
                                                  "id": item_id, "done": "restart"}  # fmt: skip
    assert [a["action"] for a in school.job_actions] == ["restart"]  # with the school's token
    assert tenant.job_actions == []
    after = await item(app, **query_of(done.headers["Location"]))
    assert "Restart sent to Graph" in after.body.decode()
    home_page = (await item(app, source=JOBS, id=item_id)).body.decode()
    assert "Restart sent to Graph" not in home_page
    assert (await send(app, home_form)).status == 303  # its own cooldown: not the school's
    assert [a["action"] for a in tenant.job_actions] == ["restart"]


def forms_in(page: str) -> dict[str, dict[str, str]]:
    found = {}
    for inside in re.findall(r'<form method="post" action="[^"]*"[^>]*>(.*?)</form>', page, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', inside))
        found[fields["action"]] = {name: html.unescape(value) for name, value in fields.items()}
    return found


async def send(app: App, fields: dict[str, str]) -> Reply:
    return await app.call(
        "board_item_action", method="POST", body=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


def principal(*groups: str, roles: tuple[str, ...] = ()) -> dict[str, str]:
    claims = [{"typ": "name", "val": "Ada Lovelace"}]
    claims += [{"typ": "groups", "val": group} for group in groups]
    claims += [{"typ": "roles", "val": role} for role in roles]
    encoded = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode())
    return {"X-MS-CLIENT-PRINCIPAL": encoded.decode()}


def signed_in(monkeypatch: pytest.MonkeyPatch, allowed: str | None) -> None:
    monkeypatch.setenv("BOARD_SIGN_IN_ENABLED", "true")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    if allowed:
        monkeypatch.setenv("BOARD_ALLOWED_GROUP_ID", allowed)
    composition.reload_settings()


async def test_behind_sign_in_a_tenants_group_sees_that_tenant_and_no_other(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_tenants(app, tenant, school=[TEACHERS.upper()], shop=[SHOPKEEPERS])
    signed_in(monkeypatch, allowed=STAFF)
    teacher = principal(TEACHERS)
    overview = await board(app, teacher)
    assert overview.status == 200, overview.body
    assert TENANT_ROW.findall(overview.body.decode()) == [SCHOOL]
    assert "signed in as Ada Lovelace" in overview.body.decode()
    assert (await board(app, teacher, tenantId=SCHOOL)).status == 200
    for other in (SHOP, "home", NOWHERE):  # as for a tenant that does not exist
        hidden = await board(app, teacher, tenantId=other)
        assert hidden.status == 404 and "No such tenant" in hidden.body.decode()
        assert "Tailspin" not in hidden.body.decode()
    assert (await item(app, teacher, tenantId=SHOP, source=SDS, id="never")).status == 404
    assert (await item(app, teacher, source=SDS, id="home-ok")).status == 404  # the home's
    assert (await item(app, teacher, tenantId=SCHOOL, source=SDS, id="broken")).status == 200
    every = [SHOP, SCHOOL, tenant.tenant_id]
    for viewer in (principal(STAFF), principal(roles=("SyncStatus.Admin",))):
        assert TENANT_ROW.findall((await board(app, viewer)).body.decode()) == every
    nobody = await board(app, principal("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b09"))
    assert nobody.status == 403 and "Not a member" in nobody.body.decode()
    assert (await board(app, principal(), tenantId=SCHOOL)).status == 403


async def test_without_an_allowed_group_anyone_signed_in_sees_the_home_tenant_alone(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_tenants(app, tenant, school=[TEACHERS])
    signed_in(monkeypatch, allowed=None)
    anyone = (await board(app, principal())).body.decode()
    assert TENANT_ROW.findall(anyone) == [tenant.tenant_id]  # as the board was: the home's
    assert (await board(app, principal(), tenantId=SCHOOL)).status == 404
    teacher = (await board(app, principal(TEACHERS))).body.decode()
    assert TENANT_ROW.findall(teacher) == [SCHOOL, tenant.tenant_id]
