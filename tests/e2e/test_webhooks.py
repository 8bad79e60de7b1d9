"""The "When a sync status changes" trigger end to end: a receiver subscribes through the
API, a status changes in the simulated tenant, a poll runs, and the receiver gets the event."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import Stack

pytestmark = pytest.mark.e2e


class Receiver:
    """An HTTP server in a thread that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.events = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/flow?sig=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.events)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def test_a_subscribed_receiver_gets_exactly_one_event_for_a_change(
    stack: Stack, receiver: Receiver
) -> None:
    profile_id = stack.add_profile(status={"status": "success", "errorCount": 0})
    stack.poll()
    subscribed = stack.api.post(
        "/api/subscriptions",
        json={"notificationUrl": receiver.url, "filter": {"ids": [profile_id]}},
    )
    assert subscribed.status_code == 201, subscribed.text
    location = subscribed.headers["Location"]
    assert location.endswith(f"/api/subscriptions/{subscribed.json()['id']}")

    changed = stack.tenant.patch(
        f"/_tenant/profiles/{profile_id}/profileStatus",
        json={"status": "validationError", "errorCount": 12, "statusMessage": "12 rows failed"},
    )
    assert changed.status_code == 200
    stack.poll()
    (event,) = receiver.wait_for(1)
    assert event["subscriptionId"] == subscribed.json()["id"]
    assert {key: event[key] for key in (
        "source", "id", "previousStatus", "status", "previousHealth", "health", "reason", "path",
    )} == {
        "source": "educationSynchronizationProfiles",
        "id": profile_id,
        "previousStatus": "success",
        "status": "validationError",
        "previousHealth": "healthy",
        "health": "error",
        "reason": "Validation failed with 12 errors: 12 rows failed.",
        "path": f"/api/education/synchronizationProfiles/{profile_id}/profileStatus",
    }  # fmt: skip

    stack.poll()  # nothing new: nothing sent again
    time.sleep(1)
    assert len(receiver.events) == 1

    # Power Automate unsubscribes by calling DELETE on the Location it was given.
    path = location.split("://", 1)[1].split("/", 1)[1]
    assert stack.api.delete(f"/{path}").status_code == 204
    stack.tenant.patch(f"/_tenant/profiles/{profile_id}/profileStatus", json={"status": "success"})
    stack.poll()
    time.sleep(1)
    assert len(receiver.events) == 1
