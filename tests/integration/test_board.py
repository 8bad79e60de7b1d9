"""The status board rendered by the real handlers from Azurite: every item worst first with
its health as a word, filters as links that keep the key, the 30-day strip drawn from the
history, an item's page, a strict CSP, and sign-in checks behind App Service Authentication;
pages rendered off the event loop, once per version of the data (one read for every filter,
an ETag and 304, a change on the board a moment later, the pages kept bounded); and text
from Graph or a caller isolated, its control characters dropped."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import re
import threading
from typing import Any

import azure.functions as func
import pytest
from jinja2 import Template

from shared import composition
from shared.storage.statuses import StatusesTable
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


# -- rendered off the event loop, once per version of the data -----------------------------


def render_blocked_until(
    monkeypatch: pytest.MonkeyPatch, template: str, released: threading.Event
) -> threading.Event:
    """Make ``template``'s render wait for ``released`` (5 s at most); return an event set
    once it has begun waiting."""
    begun = threading.Event()
    original = Template.render

    def render(self: Template, *args: Any, **kwargs: Any) -> str:
        if self.name == template:
            begun.set()
            released.wait(timeout=5)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Template, "render", render)
    return begun


async def until(event: threading.Event) -> None:
    """Wait for an event set by another thread without holding the event loop."""
    for _ in range(500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the render never began")


@pytest.mark.parametrize(
    ("name", "template", "params"),
    [
        ("board", "board.html", {}),
        ("board_item", "item.html", {"source": "educationSynchronizationProfiles", "id": "bad"}),
    ],
)
async def test_a_page_renders_while_the_app_answers_other_requests(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch,
    name: str, template: str, params: dict[str, str],
) -> None:  # fmt: skip
    """While a page's template renders, /api/health is answered: the render is not on the
    event loop (on it, the render would hold the loop until released, health after it)."""
    await seeded(app, tenant)
    released = threading.Event()
    begun = render_blocked_until(monkeypatch, template, released)
    page = asyncio.create_task(app.call(name, params=params))
    try:
        await until(begun)
        health = await app.health()
        rendering = not page.done()
    finally:
        released.set()
    assert health.status in (200, 503) and rendering
    assert (await page).status == 200


async def test_viewers_of_one_version_share_one_read_and_one_render_per_page(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch, renders: list[str]
) -> None:
    await seeded(app, tenant)
    reads = 0
    summaries = StatusesTable.summaries

    async def counted(self: StatusesTable, *args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await summaries(self, *args, **kwargs)

    monkeypatch.setattr(StatusesTable, "summaries", counted)
    replies = await asyncio.gather(*(board(app) for _ in range(8)))
    assert {reply.status for reply in replies} == {200}
    assert len({reply.headers["ETag"] for reply in replies}) == 1
    assert renders.count("board.html") == 1  # eight viewers, one render
    filtered = await asyncio.gather(board(app, health="error"), board(app, health="warning"))
    assert re.findall(r'<tr data-health="(\w+)">', filtered[0].body.decode()) == ["error"]
    assert re.findall(r'<tr data-health="(\w+)">', filtered[1].body.decode()) == ["warning"]
    assert renders.count("board.html") == 3 and reads == 1  # each filter from the same read
    assert len({reply.headers["ETag"] for reply in filtered}) == 2


async def test_the_page_has_an_etag_and_a_browser_holding_it_gets_304(
    app: App, tenant: Any
) -> None:
    await seeded(app, tenant)
    first = await board(app, code="secret-key")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "private, no-cache"
    again = await app.call(
        "board", params={"code": "secret-key"}, headers={"If-None-Match": f'"x", {etag}'}
    )
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == etag
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    # Another viewer's page (another key on its links) is another page.
    other = await app.call("board", params={"code": "other"}, headers={"If-None-Match": etag})
    assert other.status == 200 and other.headers["ETag"] != etag
    zipped = await app.call("board", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert b"<tr data-health" in gzip.decompress(zipped.body)


async def shown_after_a_change(app: App, etag: str, **params: str) -> Reply:
    """The board once it shows a new version (a few seconds at most), asked as a browser
    holding the page of ``etag``."""
    for _ in range(50):
        reply = await app.call("board", params=params, headers={"If-None-Match": etag})
        if reply.status == 200:
            return reply
        assert reply.status == 304
        await asyncio.sleep(0.1)
    pytest.fail("the change was not on the board 5 s later")


async def test_a_patch_and_a_poll_are_on_the_board_a_moment_later(app: App, tenant: Any) -> None:
    await seeded(app, tenant)
    before = await board(app)
    assert re.findall(r'<tr data-health="(\w+)">', before.body.decode()) == ["error", "warning"]
    patched = await app.patch_status("good", {"status": "success", "statusMessage": "Patched."})
    assert patched.status == 200, patched.body
    after = await shown_after_a_change(app, before.headers["ETag"])
    page = after.body.decode()
    assert re.findall(r'<tr data-health="(\w+)">', page) == ["error", "healthy"]
    assert "<bdi>success</bdi>" in page
    tenant.set_status("bad", status="success", statusMessage="Polled.")
    await app.poll()
    polled = (await shown_after_a_change(app, after.headers["ETag"])).body.decode()
    assert re.findall(r'<tr data-health="(\w+)">', polled) == ["healthy", "healthy"]


async def test_pages_kept_are_bounded_the_oldest_asked_rendered_again(
    app: App, tenant: Any, renders: list[str]
) -> None:
    """With room for two pages, a third viewer's page pushes out the one asked least
    recently: asked again, it is rendered again (the pages kept are bounded)."""
    from shared.http.board import BoardPages, board_response

    await seeded(app, tenant)
    pages = BoardPages(max_pages=2)

    async def view(key: str) -> None:
        request = func.HttpRequest(
            method="GET", url="http://localhost/api/board", body=b"", params={"code": key}
        )
        reply = await board_response(request, composition.services, pages)
        assert reply.status_code == 200

    for key in ("a", "b", "a", "c", "a", "b"):
        await view(key)
    # a, b rendered; a kept; c pushes out b (a was asked after it); a kept; b again.
    assert renders.count("board.html") == 4


# -- text the board did not write ----------------------------------------------------------

SPOOF = "Evil\u202eloohcS\x00\x07\x85 ok"


async def test_foreign_text_is_isolated_and_control_characters_dropped(
    app: App, tenant: Any
) -> None:
    status = {**SEED, "id": "evil", "status": "error", "statusMessage": "Bad\u202e\x00 file\x9b"}
    tenant.add_profile("evil", display_name=SPOOF, status=status)
    await app.poll()
    page = (await board(app)).body.decode()
    assert "<bdi>Evil\u202eloohcS ok</bdi>" in page  # the name, isolated and cleaned
    outside = re.sub(r"<bdi>[^<]*</bdi>", "", page)
    assert "\u202e" not in outside  # every override is inside an isolate
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", page)
    reply = await app.call(
        "board_item", params={"source": "educationSynchronizationProfiles", "id": "evil"}
    )
    item = reply.body.decode()
    assert "<title>\u2068Evil\u202eloohcS ok\u2069: SyncStatus</title>" in item
    assert "<h1><bdi>Evil\u202eloohcS ok</bdi></h1>" in item
    document = item[item.index("<pre>") : item.index("</pre>")]
    assert "Bad\\u202e\\u0000 file\\u009b" in document  # what Graph sent, escaped
    assert "\u202e" not in document and not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", item)
    outside = re.sub(r"<bdi>[^<]*</bdi>|<title>[^<]*</title>", "", item)
    assert "\u202e" not in outside
