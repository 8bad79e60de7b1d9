"""Acting on a provisioning job from its board page, over the real handlers against Azurite
and the simulated tenant: the page offers restart (with reset scopes) and start only when
actions are on; the form's POST is guarded exactly as the API's actions (cooldown, force
deletes, actions off), needs the token the page was given (bound to the viewer, the item and
the action, signed with a secret kept in Table Storage) and is refused when a browser marks
it as sent from another site; a done action redirects to the item's page."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from shared import composition
from tests.support.app import App, Reply
from tests.support.webhooks import history
from tools import graph_tenant as graph

JOBS = "synchronizationJobs"
SP = "8d4f3b6b-0e1a-4f5c-9b7d-4a5b6c7d8e01"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def jobs_only(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", SP)
    monkeypatch.setenv("PROVISIONING_ACTIONS_ENABLED", "true")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("jobs_only")


def principal(name: str) -> str:
    claims = [{"typ": "name", "val": name}]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


async def page_of(app: App, job_id: str, **headers: str) -> str:
    reply = await app.call(
        "board_item", params={"source": JOBS, "id": f"{SP}:{job_id}"}, headers=headers
    )
    assert reply.status == 200, reply.body
    return reply.body.decode()


def forms_in(page: str) -> dict[str, dict[str, str]]:
    """Each form of the page by its action: its hidden fields and where it posts."""
    found = {}
    for form in re.findall(r'<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        post_to, inside = form
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', inside))
        fields = {name: html.unescape(value) for name, value in fields.items()}
        found[fields["action"]] = {**fields, "postTo": html.unescape(post_to)}
    return found


async def send(
    app: App, fields: dict[str, str], scopes: tuple[str, ...] = (), **headers: str
) -> Reply:
    pairs = [(k, v) for k, v in fields.items() if k != "postTo"]
    pairs += [("resetScope", scope) for scope in scopes]
    return await app.call(
        "board_item_action",
        method="POST",
        headers={"Content-Type": FORM, **headers},
        body=urlencode(pairs),
    )


async def test_a_quarantined_jobs_page_restarts_it_and_redirects_back(
    app: App, tenant: Any
) -> None:
    job_id = tenant.add_job(SP, template_id="scim", status=graph.quarantined_job_status())
    await app.poll()
    page = await page_of(app, job_id)
    forms = forms_in(page)
    assert sorted(forms) == ["restart", "start"]  # quarantined, not running: start offered
    assert forms["restart"]["postTo"] == "/api/board/item/action"
    assert 'value="ForceDeletes"' not in page  # not allowed by the settings
    reply = await send(app, forms["restart"], ("QuarantineState", "Escrows"),
                       **{"Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert reply.status == 303, reply.body
    location = urlsplit(reply.headers["Location"])
    assert location.path == "/api/board/item" and not location.netloc  # never the Host
    assert parse_qs(location.query) == {"source": [JOBS], "id": [f"{SP}:{job_id}"],
                                        "done": ["restart"]}  # fmt: skip
    (sent,) = tenant.job_actions
    assert sent["action"] == "restart"
    assert sent["criteria"] == {"resetScope": "QuarantineState, Escrows"}
    action = (await history(app, JOBS, f"{SP}:{job_id}"))["value"][1]
    assert action["kind"] == "action" and action["action"]["by"] == "function key (board)"
    params = {name: values[0] for name, values in parse_qs(location.query).items()}
    after = await app.call("board_item", params=params)
    assert "Restart sent to Graph" in after.body.decode()
    assert "start" not in forms_in(after.body.decode())  # Active now: restart only


async def test_the_form_needs_its_own_token_from_this_site(app: App, tenant: Any) -> None:
    first = tenant.add_job(SP, template_id="scim", status=graph.quarantined_job_status())
    second = tenant.add_job(SP, template_id="scim", status=graph.quarantined_job_status())
    await app.poll()
    restart = forms_in(await page_of(app, first))["restart"]
    start_token = forms_in(await page_of(app, first))["start"]["token"]
    expires, _dot, digest = restart["token"].partition(".")
    attempts = [
        {**restart, "token": ""},
        {**restart, "token": f"{expires}.{digest[:-2]}AA"},  # a changed signature
        {**restart, "token": f"{int(expires) + 60}.{digest}"},  # a later expiry, same HMAC
        {**restart, "token": start_token},  # another action's token
        {**restart, "id": f"{SP}:{second}"},  # another job's page
    ]
    for fields in attempts:
        refused = await send(app, fields)
        assert refused.status == 403, fields
        assert "This form has expired" in refused.body.decode()
    cross = await send(app, restart, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403 and "another site" in cross.body.decode()
    assert tenant.job_actions == []  # nothing reached Graph
    bad = await app.call("board_item_action", method="POST",
                         headers={"Content-Type": "application/json"}, body={"action": "restart"})  # fmt: skip
    assert bad.status == 400 and bad.headers["Content-Type"].startswith("text/html")
    assert (await send(app, restart)).status == 303  # the genuine form still works


async def test_a_form_is_guarded_as_the_api_is(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = tenant.add_job(SP, template_id="scim", status=graph.job_status("Paused"))
    await app.poll()
    forms = forms_in(await page_of(app, job_id))
    forced = await send(app, forms["restart"], ("Full", "ForceDeletes"))
    assert forced.status == 403 and "PROVISIONING_ALLOW_FORCE_DELETES" in forced.body.decode()
    assert (await send(app, forms["start"])).status == 303
    again = await send(app, forms["restart"])
    assert again.status == 429, again.body
    assert 55 <= int(again.headers["Retry-After"]) <= 60
    assert "Back to the item" in again.body.decode()
    assert [a["action"] for a in tenant.job_actions] == ["start"]
    monkeypatch.setenv("PROVISIONING_ACTIONS_ENABLED", "false")
    composition.reload_settings()
    assert forms_in(await page_of(app, job_id)) == {}  # no form while actions are off
    off = await send(app, forms["restart"])
    assert off.status == 403 and "PROVISIONING_ACTIONS_ENABLED" in off.body.decode()


async def test_behind_sign_in_a_token_holds_for_the_person_it_was_shown_to(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOARD_SIGN_IN_ENABLED", "true")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    composition.reload_settings()
    job_id = tenant.add_job(SP, template_id="scim")
    await app.poll()
    ada = {"X-MS-CLIENT-PRINCIPAL": principal("Ada Lovelace")}
    restart = forms_in(await page_of(app, job_id, **ada))["restart"]
    grace = {"X-MS-CLIENT-PRINCIPAL": principal("Grace Hopper")}
    assert (await send(app, restart, **grace)).status == 403
    assert (await send(app, restart)).status == 401  # not signed in at all
    done = await send(app, restart, **ada)
    assert done.status == 303, done.body
    action = (await history(app, JOBS, f"{SP}:{job_id}"))["value"][0]
    assert action["action"]["by"] == "Ada Lovelace"
