"""The status board rendered by the real handlers from Azurite: every item worst first with
its health as a word, filters as links that keep the key, the 30-day strip drawn from the
history, an item's page, a strict CSP, and sign-in checks behind App Service Authentication."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from shared import composition
from tests.support.app import App, Reply
from tests.support.samples import SEED

GROUP = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


async def board(app: App, **params: str) -> Reply:
    return await app.call("board", params=params)


def principal(*groups: str, name: str = "Ada Lovelace") -> str:
    claims = [{"typ": "name", "val": name}] if name else [{"typ": "idtyp", "val": "app"}]
    claims += [{"typ": "groups", "val": g} for g in groups]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


async def seeded(app: App, tenant: Any) -> None:
    tenant.add_profile(
        "good", display_name="Good School", status={**SEED, "id": "good", "status": "success"}
    )
    tenant.add_profile(
        "bad",
        display_name="Bad School",
        status={**SEED, "id": "bad", "status": "error", "statusMessage": "Bad <CSV> & co"},
    )
    await app.poll()
    tenant.set_status("good", status="paused")
    await app.poll()


async def test_the_board_shows_every_item_worst_first_with_a_strict_policy(
    app: App, tenant: Any
) -> None:
    await seeded(app, tenant)
    reply = await board(app, code="secret-key")
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/html")
    policy = reply.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "script" not in policy and reply.headers["Referrer-Policy"] == "no-referrer"
    page = reply.body.decode()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    healths = re.findall(r'<tr data-health="(\w+)">', page)
    assert healths == ["error", "warning"]  # worst first
    assert "Bad &lt;CSV&gt; &amp; co" in page  # autoescaped
    links = re.findall(r'href="([^"]+)"', page)
    assert links and all("code=secret-key" in href for href in links)
    assert page.count("<svg") == 2 and "<title>warning from " in page


async def test_filters_are_links_and_bad_filters_are_a_400_page(app: App, tenant: Any) -> None:
    await seeded(app, tenant)
    switched_off = await board(app, source="synchronizationJobs")  # a valid source, not polled
    assert switched_off.status == 400 and "synchronizationJobs" in switched_off.body.decode()
    page = (await board(app, health="warning")).body.decode()
    assert re.findall(r'<tr data-health="(\w+)">', page) == ["warning"]
    assert 'aria-current="page">warning (1)</a>' in page
    bad = await board(app, health="broken")
    assert bad.status == 400 and bad.headers["Content-Type"].startswith("text/html")
    assert "broken" in bad.body.decode()


async def test_an_items_page_shows_its_history_and_what_graph_sent(app: App, tenant: Any) -> None:
    await seeded(app, tenant)
    reply = await app.call(
        "board_item", params={"source": "educationSynchronizationProfiles", "id": "good"}
    )
    assert reply.status == 200, reply.body
    page = reply.body.decode()
    assert page.index("healthy</span></td>") > page.index("warning</span></td>")  # newest first
    assert "&#34;status&#34;: &#34;paused&#34;" in page  # the document, pretty-printed
    missing = await app.call(
        "board_item", params={"source": "educationSynchronizationProfiles", "id": "nope"}
    )
    assert missing.status == 404


@pytest.mark.parametrize(
    ("env", "header", "status"),
    [
        ({"WEBSITE_AUTH_ENABLED": "False"}, principal(), 503),
        ({"WEBSITE_AUTH_ENABLED": "True"}, None, 401),
        (
            {"WEBSITE_AUTH_ENABLED": "True", "BOARD_ALLOWED_GROUP_ID": GROUP},
            principal("other"),
            403,
        ),
        ({"WEBSITE_AUTH_ENABLED": "True", "BOARD_ALLOWED_GROUP_ID": GROUP}, principal(GROUP), 200),
        ({"WEBSITE_AUTH_ENABLED": "True"}, principal(), 200),
        ({"WEBSITE_AUTH_ENABLED": "True"}, principal(name=""), 403),  # an app, not a person
    ],
)
async def test_behind_app_service_authentication_the_board_needs_a_sign_in(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
    header: str | None, status: int,
) -> None:  # fmt: skip
    monkeypatch.setenv("BOARD_SIGN_IN_ENABLED", "true")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    composition.reload_settings()
    headers = {"X-MS-CLIENT-PRINCIPAL": header} if header else {}
    reply = await app.call("board", headers=headers)
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("text/html")
    if status == 401:
        assert "/.auth/login/aad" in reply.body.decode()
    if status == 200:
        assert "signed in as Ada Lovelace" in reply.body.decode()
