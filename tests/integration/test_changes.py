"""Nothing lost even on a crash, and changes in the order they happened: a poll or a PATCH
"killed" (its task cancelled while Table Storage holds one of its requests) at each step,
then the next poll; a PATCH that lands in the middle of a poll. Against Azurite, the
simulated tenant and a real webhook receiver. (tools/kill_test.py kills real processes.)"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import pytest

from shared import composition
from tests.support.app import App
from tests.support.azurite import azurite_proxy
from tests.support.webhooks import Receiver, history, subscribe

SDS = "educationSynchronizationProfiles"
STATUS_PATH = "/beta/education/synchronizationProfiles/{}/profileStatus"
KILL_TIMEOUT = 30.0


def history_writes(path: str, body: bytes) -> bool:
    return path.endswith("/$batch") and b"History" in body


def pending_cleared(path: str, body: bytes) -> bool:
    """The write that clears recorded changes from their items: after history and outbox."""
    return re.search(rb'"pendingChanges":\s*""', body) is not None


async def killed_while(
    hold: Callable[[str, bytes], bool],
    work: Callable[[], Awaitable[Any]],
    *,
    azurite: Any,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run ``work`` until Table Storage is asked what ``hold`` picks, then cancel it there:
    what it wrote before stays, what it would have written after never is."""
    held = asyncio.Event()
    async with azurite_proxy(azurite, hold=hold, held=held) as proxied:
        monkeypatch.setenv("AzureWebJobsStorage", proxied)
        composition.reload_settings()
        task = asyncio.ensure_future(work())
        await asyncio.wait_for(held.wait(), KILL_TIMEOUT)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    monkeypatch.setenv("AzureWebJobsStorage", app_settings["AzureWebJobsStorage"])
    composition.reload_settings()


def assert_chain(changes: list[dict[str, Any]], cached_status: str) -> None:
    """Newest first: each change starts where the one before it ended, the newest is what
    the cache holds, and no change is there twice."""
    assert changes and changes[0]["status"] == cached_status
    for newer, older in itertools.pairwise(changes):
        assert (newer["previousStatus"], newer["previousHealth"]) == (
            older["status"],
            older["health"],
        )


def transitions(events: list[dict[str, Any]], item_id: str) -> list[tuple[str, str]]:
    return [(e["previousStatus"], e["status"]) for e in events if e["id"] == item_id]


@pytest.fixture
async def watched(app: App, tenant: Any, receiver: Receiver, insecure_webhooks: None) -> App:
    """Two profiles polled once (their baseline) and a subscriber for every change."""
    tenant.add_profile("a")
    tenant.add_profile("b")
    await app.poll()
    await subscribe(app, receiver.url)
    return app


@pytest.mark.parametrize("step", [history_writes, pending_cleared], ids=["before", "during"])
async def test_a_poll_killed_around_recording_loses_and_repeats_no_change(
    watched: App,
    tenant: Any,
    receiver: Receiver,
    azurite: Any,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    step: Callable[[str, bytes], bool],
) -> None:
    tenant.set_status("a", status="error")
    tenant.set_status("b", status="paused")
    await killed_while(
        step, watched.poll, azurite=azurite, app_settings=app_settings, monkeypatch=monkeypatch
    )
    await watched.poll()  # Graph sent nothing new: what the killed poll wrote is recorded now
    await watched.poll()
    assert transitions(receiver.events, "a") == [("success", "error")]
    assert transitions(receiver.events, "b") == [("success", "paused")]
    assert len({event["eventId"] for event in receiver.events}) == len(receiver.events) == 2
    for item_id, status in (("a", "error"), ("b", "paused")):
        changes = (await history(watched, SDS, item_id))["value"]
        assert [c["status"] for c in changes] == [status, "success"]  # then the first poll's
        assert_chain(changes, status)


async def test_a_patch_killed_after_its_write_is_recorded_by_the_next_poll(
    watched: App,
    receiver: Receiver,
    azurite: Any,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def patch() -> None:
        await watched.patch_status("a", {"status": "paused"})

    await killed_while(
        history_writes, patch, azurite=azurite, app_settings=app_settings, monkeypatch=monkeypatch
    )
    assert (await watched.get_status("a")).json()["status"] == "paused"  # the PATCH landed
    await watched.poll()
    assert transitions(receiver.events, "a") == [("success", "paused")]
    assert_chain((await history(watched, SDS, "a"))["value"], "paused")


async def test_a_patch_during_a_poll_is_followed_by_the_polls_change(
    watched: App, tenant: Any, receiver: Receiver
) -> None:
    """The poll read "success" and Graph says "error"; a PATCH sets "paused" before the
    poll writes. The poll's write meets the PATCH's version, reads again, and records
    paused -> error: history and events follow the item, and end where the cache is."""
    tenant.set_status("a", status="error")
    tenant.add_fault(STATUS_PATH.format("a"), status=200, delay=1.0)  # the poll reads slowly
    poll = asyncio.ensure_future(watched.poll())
    await asyncio.sleep(0.5)  # the poll has read the cache and waits on Graph
    assert (await watched.patch_status("a", {"status": "paused"})).status == 200
    await poll
    assert (await watched.get_status("a")).json()["status"] == "error"  # Graph's value wins
    changes = (await history(watched, SDS, "a"))["value"]
    assert [(c["previousStatus"], c["status"]) for c in changes] == [
        ("paused", "error"),
        ("success", "paused"),
        (None, "success"),  # the first poll's
    ]
    assert_chain(changes, "error")
    assert [(e["status"], e["health"]) for e in receiver.events if e["id"] == "a"] == [
        ("paused", "warning"),
        ("error", "error"),
    ]


async def test_a_removal_killed_before_it_is_recorded_is_recorded_once(
    watched: App,
    tenant: Any,
    receiver: Receiver,
    azurite: Any,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant.remove_profile("b")
    await killed_while(
        history_writes, watched.poll, azurite=azurite, app_settings=app_settings,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert (await watched.get_status("b")).status == 404  # on its way out: not served
    await watched.poll()
    await watched.poll()
    assert transitions(receiver.events, "b") == [("success", None)]
    changes = (await history(watched, SDS, "b"))["value"]
    assert [(c["previousStatus"], c["status"]) for c in changes] == [
        ("success", None),
        (None, "success"),
    ]
    rows = (await watched.call("list_statuses")).json()["value"]
    assert [row["id"] for row in rows] == ["a"]


async def test_a_first_poll_killed_part_way_sends_no_events_for_the_whole_tenant(
    app: App,
    tenant: Any,
    receiver: Receiver,
    insecure_webhooks: None,
    azurite: Any,
    app_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Until a source has been read once every item is new: a first poll killed after some
    of its writes leaves the next one a cache, yet that one is still the first read."""
    for index in range(150):
        tenant.add_profile(f"p{index:03}")
    await subscribe(app, receiver.url)
    batches: list[bytes] = []

    def second_write_batch(path: str, body: bytes) -> bool:
        if path.endswith("/$batch") and b"Statuses" in body:
            batches.append(body)
            return len(batches) == 2
        return False

    await killed_while(
        second_write_batch, app.poll, azurite=azurite, app_settings=app_settings,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    await app.poll()
    await app.poll()
    assert receiver.events == []
    rows = (await app.call("list_statuses", params={"$top": "999"})).json()["value"]
    assert len(rows) == 150
    for item_id in ("p000", "p149"):
        changes = (await history(app, SDS, item_id))["value"]
        assert [(c["previousStatus"], c["status"]) for c in changes] == [(None, "success")]
