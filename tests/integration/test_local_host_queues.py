"""Queue triggers of the local host (tools/local_host/queues.py) against a real Azurite.

A throwaway app, written to a temporary directory, has one queue function that records each
message it gets (a JSON line per start and end of an invocation, with the host's pid) and
sleeps or fails when the message says so; the real CLI serves it in child processes, with
host.json's queue options overridden by app settings as the host allows. Each test has its
own queue on the session's Azurite.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from tests.support.azurite import Azurite, child_failures_fail
from tests.support.environment import clean_env
from tools.processes import Child, free_port

START_TIMEOUT = 60.0
OVERRIDE = "AzureFunctionsJobHost__extensions__queues__"

APP = """
import asyncio
import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp()
RECORDS = Path(os.environ["QUEUE_TEST_RECORDS"])


def record(event, message, order):
    line = {
        "event": event, "at": time.time(), "pid": os.getpid(), "id": message.id,
        "dequeue_count": message.dequeue_count, "body": message.get_body().decode(),
        "tag": order.get("tag"), "has_times": bool(message.insertion_time
                                                   and message.expiration_time),
    }
    with (RECORDS / f"{os.getpid()}.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\\n")


@app.queue_trigger(arg_name="message", queue_name="%TEST_QUEUE%",
                   connection="AzureWebJobsStorage")
async def take(message: func.QueueMessage) -> None:
    order = json.loads(message.get_body())
    record("start", message, order)
    try:
        if message.dequeue_count == 1:
            await asyncio.sleep(order.get("sleep_first", 0))
        await asyncio.sleep(order.get("sleep", 0))
        if message.dequeue_count <= order.get("fail_times", 0):
            raise RuntimeError("asked to fail")
    finally:
        record("end", message, order)
"""

HOST_JSON = {
    "version": "2.0",
    # The file's values, which the tests' app settings override where they say otherwise.
    "extensions": {"queues": {"maxPollingInterval": "00:00:01", "maxDequeueCount": 3}},
}


@dataclass
class QueueApp:
    directory: Path
    records: Path
    queue: QueueClient
    connection_string: str
    log_dir: Path
    hosts: list[Child]

    def start_host(self, *, lease: int = 600, **options: Any) -> Child:
        env = clean_env() | {
            "AzureWebJobsStorage": self.connection_string,
            "TEST_QUEUE": self.queue.queue_name,
            "QUEUE_TEST_RECORDS": str(self.records),
        }
        env |= {OVERRIDE + name: str(value) for name, value in options.items()}
        argv = [sys.executable, "-m", "tools.local_host", "--app-dir", str(self.directory),
                "--port", str(free_port()), "--queue-lease", str(lease)]  # fmt: skip
        host = Child(f"host-{len(self.hosts)}", argv, env=env, log_dir=self.log_dir)
        self.hosts.append(host)
        with child_failures_fail():
            host.wait_for_line(lambda line: "Host started" in line, START_TIMEOUT)
        return host

    def send(self, tag: str, **order: Any) -> str:
        """A message as the app sends one: a JSON document, base64-encoded; its id."""
        text = json.dumps({"tag": tag, **order})
        return str(self.queue.send_message(base64.b64encode(text.encode()).decode()).id)

    def events(self, tag: str | None = None) -> list[dict[str, Any]]:
        lines = [
            json.loads(line)
            for path in sorted(self.records.glob("*.jsonl"))
            for line in path.read_text().splitlines()
        ]
        chosen = [line for line in lines if tag is None or line["tag"] == tag]
        return sorted(chosen, key=lambda line: line["at"])

    def ends(self, tag: str) -> list[dict[str, Any]]:
        return [event for event in self.events(tag) if event["event"] == "end"]

    def create_queue(self) -> None:
        """The queue, unless the host has created it already."""
        with contextlib.suppress(ResourceExistsError):
            self.queue.create_queue()

    def messages_left(self) -> int:
        """Messages on the queue, hidden ones included."""
        return int(self.queue.get_queue_properties().approximate_message_count)

    def poisoned(self) -> list[str]:
        """The texts on the poison queue (none while it does not exist)."""
        name = f"{self.queue.queue_name}-poison"
        with QueueClient.from_connection_string(self.connection_string, name) as poison:
            try:
                return [str(m.content) for m in poison.peek_messages(max_messages=32)]
            except ResourceNotFoundError:
                return []


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.1)


@pytest.fixture
def queue_app(tmp_path: Path, azurite: Azurite) -> Iterator[QueueApp]:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "function_app.py").write_text(APP)
    (directory / "host.json").write_text(json.dumps(HOST_JSON))
    records = tmp_path / "records"
    records.mkdir()
    name = f"q{uuid.uuid4().hex[:12]}"
    queue = QueueClient.from_connection_string(azurite.connection_string, name)
    app = QueueApp(directory, records, queue, azurite.connection_string, tmp_path, [])
    try:
        yield app
    finally:
        for host in reversed(app.hosts):
            host.stop()
        queue.close()


def test_a_base64_message_arrives_decoded_and_is_deleted_when_the_function_succeeds(
    queue_app: QueueApp,
) -> None:
    host = queue_app.start_host()  # the queue does not exist yet: the host creates it
    wait_until(lambda: "listening on queue" in host.tail(), 10, "the listener started")
    sent = queue_app.send("plain", note="ünïcode")
    wait_until(lambda: queue_app.ends("plain"), 15, "the message was processed")
    (start, _end) = queue_app.events("plain")
    assert start["id"] == sent and start["dequeue_count"] == 1 and start["has_times"]
    assert json.loads(start["body"]) == {"tag": "plain", "note": "ünïcode"}
    wait_until(lambda: queue_app.messages_left() == 0, 5, "the message was deleted")
    log = host.tail(200)
    assert f"Reason='New queue message detected on '{queue_app.queue.queue_name}'.'" in log
    assert f"Trigger Details: MessageId: {sent}, DequeueCount: 1" in log
    assert "Executed 'Functions.take' (Succeeded" in log


def test_a_failing_message_is_retried_after_the_visibility_timeout_then_poisoned(
    queue_app: QueueApp,
) -> None:
    """maxDequeueCount 3 from host.json; visibilityTimeout 2 s from an app setting."""
    queue_app.start_host(visibilityTimeout="00:00:02")
    queue_app.create_queue()
    body = base64.b64encode(json.dumps({"tag": "bad", "fail_times": 9}).encode()).decode()
    queue_app.queue.send_message(body)
    wait_until(queue_app.poisoned, 20, "the message reached the poison queue")
    starts = [e for e in queue_app.events("bad") if e["event"] == "start"]
    assert [e["dequeue_count"] for e in starts] == [1, 2, 3]
    ends = queue_app.ends("bad")
    gaps = [start["at"] - end["at"] for end, start in zip(ends, starts[1:], strict=False)]
    assert all(1.8 <= gap < 6 for gap in gaps), gaps  # visible again after 2 s, not at once
    assert queue_app.poisoned() == [body]  # the same body, base64 as before
    wait_until(lambda: queue_app.messages_left() == 0, 5, "the original was deleted")
    assert "Message has reached MaxDequeueCount of 3." in queue_app.hosts[0].tail(200)


def test_a_message_that_is_not_base64_goes_to_the_poison_queue_untouched(
    queue_app: QueueApp,
) -> None:
    queue_app.start_host()
    queue_app.create_queue()
    queue_app.queue.send_message("{not base64}")
    wait_until(queue_app.poisoned, 15, "the message reached the poison queue")
    assert queue_app.poisoned() == ["{not base64}"]
    assert queue_app.events() == []  # the function never saw it
    wait_until(lambda: queue_app.messages_left() == 0, 5, "the original was deleted")


def test_batch_size_and_new_batch_threshold_bound_the_invocations_at_once(
    queue_app: QueueApp,
) -> None:
    queue_app.create_queue()
    for index in range(9):  # short and long ones: room for a batch comes before all end
        queue_app.send("busy", sleep=0.3 if index % 2 == 0 else 1.5)
    queue_app.start_host(batchSize=2, newBatchThreshold=1)
    wait_until(lambda: len(queue_app.ends("busy")) == 9, 30, "all nine were processed")
    running = peak = 0
    for event in queue_app.events("busy"):
        running += 1 if event["event"] == "start" else -1
        peak = max(peak, running)
    assert peak == 3  # batchSize + newBatchThreshold, never more


def test_a_message_running_longer_than_the_lease_keeps_it_by_renewal(
    queue_app: QueueApp,
) -> None:
    queue_app.create_queue()
    queue_app.send("long", sleep=3.5)
    queue_app.start_host(lease=2)  # renewed every second; unrenewed, it would be back at 2 s
    wait_until(lambda: queue_app.ends("long"), 20, "the message was processed")
    wait_until(lambda: queue_app.messages_left() == 0, 5, "the message was deleted")
    assert [e["dequeue_count"] for e in queue_app.events("long")] == [1, 1]


def test_two_hosts_share_a_queue_and_process_each_message_once(queue_app: QueueApp) -> None:
    first = queue_app.start_host(batchSize=4)
    second = queue_app.start_host(batchSize=4)
    ids = {queue_app.send("shared", sleep=0.2) for _ in range(40)}
    wait_until(lambda: len(queue_app.ends("shared")) >= 40, 30, "all forty were processed")
    time.sleep(1)  # time for a second delivery of any of them, which must not come
    ends = queue_app.ends("shared")
    assert sorted(e["id"] for e in ends) == sorted(ids)  # each once
    assert {e["pid"] for e in ends} == {first.process.pid, second.process.pid}
    wait_until(lambda: queue_app.messages_left() == 0, 5, "every message was deleted")


def test_a_killed_hosts_message_is_processed_by_another_host_after_the_lease(
    queue_app: QueueApp,
) -> None:
    hosts = [queue_app.start_host(lease=3), queue_app.start_host(lease=3)]
    sent = queue_app.send("orphan", sleep_first=60)
    wait_until(lambda: queue_app.events("orphan"), 15, "a host took the message")
    (taken,) = queue_app.events("orphan")
    killed_at = time.time()
    owner = next(host for host in hosts if host.process.pid == taken["pid"])
    owner.kill()
    wait_until(lambda: queue_app.ends("orphan"), 20, "another host processed the message")
    (done,) = queue_app.ends("orphan")
    assert done["id"] == sent and done["dequeue_count"] == 2
    assert done["pid"] != owner.process.pid
    started_again = next(e for e in queue_app.events("orphan") if e["dequeue_count"] == 2)
    assert started_again["at"] - taken["at"] >= 2.5  # not before the lease ran out
    assert started_again["at"] - killed_at < 10
    wait_until(lambda: queue_app.messages_left() == 0, 5, "the message was deleted")
