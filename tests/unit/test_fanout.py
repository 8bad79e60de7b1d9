"""The round's fan-out without storage: the messages' shape, the spread, throttling, and the
host's settings the app counts on (shared/polling/fanout.py, shared/storage/queues.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shared.core.errors import SettingsError
from shared.polling.fanout import MAX_DELIVERIES, spread_seconds, throttled_for
from shared.sources import load_settings
from shared.storage.poll_runs import PollRun
from shared.storage.queues import PollOrder, encode_message

REPO = Path(__file__).resolve().parents[2]
BASE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "SDS_PROFILES_ENABLED": "true"}


def test_the_last_delivery_the_app_counts_on_is_the_hosts_max_dequeue_count() -> None:
    queues = json.loads((REPO / "host.json").read_text())["extensions"]["queues"]
    assert queues["maxDequeueCount"] == MAX_DELIVERIES
    assert queues["messageEncoding"] == "base64"


def test_a_message_is_base64_json_as_the_host_reads_it() -> None:
    order = PollOrder(tenantId="3f2c8c4e-6d0a-4a59-9a53-0b1f0e7d2a11", roundId="r1")
    text = encode_message(order.model_dump())
    assert PollOrder.model_validate_json(base64.b64decode(text)) == order


def test_a_message_too_large_for_a_queue_is_refused() -> None:
    with pytest.raises(ValueError, match="holds"):
        encode_message({"x": "y" * 70_000})


def test_queue_names_follow_the_table_prefix_and_are_checked() -> None:
    settings = load_settings({**BASE, "STATUS_TABLE_PREFIX": "Ci42"})
    assert (settings.poll_queue, settings.delivery_queue) == ("ci42-polls", "ci42-deliveries")
    named = load_settings({**BASE, "POLL_QUEUE_NAME": "my-polls"})
    assert named.poll_queue == "my-polls"
    for bad in ("My-Polls", "a--b", "-ab", "ab"):
        with pytest.raises(SettingsError, match="POLL_QUEUE_NAME"):
            load_settings({**BASE, "POLL_QUEUE_NAME": bad})


def test_a_round_is_spread_half_a_second_per_tenant_within_30_percent_of_the_interval() -> None:
    settings = load_settings(BASE)  # every 5 minutes
    assert spread_seconds(settings, 1) == 0  # one tenant: polled at once
    assert spread_seconds(settings, 11) == 5.0
    assert spread_seconds(settings, 1000) == 90.0  # 30% of 300 s
    told = load_settings({**BASE, "POLL_SPREAD_SECONDS": "12"})
    assert spread_seconds(told, 1000) == 12.0
    with pytest.raises(SettingsError, match="POLL_SPREAD_SECONDS"):
        load_settings({**BASE, "POLL_SPREAD_SECONDS": "200"})


def run(status: int | None, retry_after: float | None = None) -> PollRun:
    error = None
    if status is not None:
        error = {"status": status, "code": "x", "message": "y"}
        if retry_after is not None:
            error["retryAfter"] = retry_after
    return PollRun("s", "failed", "2026-12-07T10:00:00.0000000Z", source_error=error)


def test_a_throttled_poll_waits_graphs_retry_after_capped() -> None:
    assert throttled_for([run(None), run(503, 5)]) is None  # not throttled: the queue retries
    assert throttled_for([run(429, 7), run(429, 30)]) == 30
    assert throttled_for([run(429)]) == 1.0  # no Retry-After: a second
    assert throttled_for([run(429, 999_999_999)]) == 180.0
