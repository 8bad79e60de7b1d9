"""The board's words for its rows and an item's next steps: times as a person says them,
Industry Data runs folded into one row per flow (the latest decides), rows of the same name
told apart, and only https links to Microsoft hosts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from shared.http.board.render import polling_words
from shared.http.board.rows import flow_of, run_flows, since_words, tag_twins, when
from shared.http.board.steps import next_steps, trusted_link

NOW = datetime(2026, 12, 7, 8, 48, tzinfo=UTC)


@dataclass
class FakeRow:
    source: str
    id: str
    display_name: str
    since: str = ""
    tag: str | None = None


def test_times_are_said_as_a_person_says_them() -> None:
    assert since_words("2026-12-07T05:48:00Z", "graph", NOW) == "since 05:48 UTC, 3 h ago"
    assert since_words("2026-12-07T05:48:00Z", "firstSeen", NOW).startswith("seen since 05:48")
    assert when("2026-12-05T05:48:00Z", NOW) == "at Dec 5, 05:48 UTC, 2 d 3 h ago"
    assert when("garbage", NOW) is None and when(None, NOW) is None


def test_a_newer_run_of_a_flow_supersedes_an_older_failed_one() -> None:
    old = FakeRow("industryDataRuns", "a", "Run 2026-12-05 22:56 UTC", "2026-12-05T22:56:00Z")
    new = FakeRow("industryDataRuns", "b", "Run 2026-12-07 08:00 UTC", "2026-12-07T08:00:00Z")
    other = FakeRow("industryDataRuns", "c", "Nightly SIS", "2026-12-01T00:00:00Z")
    job = FakeRow("synchronizationJobs", "sp:scim.1", "Run 2026-12-07 08:00 UTC")
    rows, older = run_flows([old, new, other, job], lambda row: row.since)
    assert [row.id for row in rows] == ["b", "c", "sp:scim.1"]
    assert older == {"b": 1, "c": 0}
    assert flow_of("Run 2026-12-05 22:56 UTC") == flow_of("Run 2026-12-07T08:00:00Z") == "run"


def test_rows_of_one_name_say_what_differs() -> None:
    jobs = [
        FakeRow("synchronizationJobs", "sp1:scim.0a1b2c3d8f2b", "Clever: SCIM app provisioning"),
        FakeRow("synchronizationJobs", "sp2:scim.99998888aa11", "Clever: SCIM app provisioning"),
        FakeRow("synchronizationJobs", "sp3:scim.1", "Alone"),
    ]
    tag_twins(jobs)
    assert [row.tag for row in jobs] == ["scim…8f2b", "scim…aa11", None]
    same = [
        FakeRow("synchronizationJobs", "principal-0001:scim.x8f2b", "Twin"),
        FakeRow("synchronizationJobs", "principal-0002:scim.y8f2b", "Twin"),
    ]
    tag_twins(same)
    assert [row.tag for row in same] == ["scim…8f2b · app …0001", "scim…8f2b · app …0002"]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://aka.ms/fix", True),
        ("https://learn.microsoft.com/entra/x", True),
        ("https://microsoft.com/", True),
        ("http://aka.ms/fix", False),
        ("https://evilmicrosoft.com/", False),
        ("https://microsoft.com.evil.example/", False),
        ("https://user@aka.ms/", False),
        ("javascript:alert(1)", False),
        (None, False),
    ],
)
def test_only_https_links_to_microsoft_hosts_are_kept(url: object, kept: bool) -> None:
    assert (trusted_link(url) is not None) == kept


def test_a_quarantined_jobs_next_steps() -> None:
    job = {
        "status": {
            "quarantine": {"nextAttempt": "2026-12-07T14:00:00Z"},
            "troubleshootingUrl": "https://evil.example/x",
        }
    }
    steps = next_steps("synchronizationJobs", "0f8e7d6c-5b4a:scim.1", job, NOW)
    assert steps[0].text == "Entra retries at 14:00 UTC, in 5 h 12 min" and steps[0].href is None
    assert len(steps) == 2 and steps[1].href.startswith("https://entra.microsoft.com/#view/")
    assert "/objectId/0f8e7d6c-5b4a" in steps[1].href  # the untrusted link left out
    assert next_steps("educationSynchronizationProfiles", "x", {}, NOW)[0].href == (
        "https://sds.microsoft.com/"
    )


def test_polling_is_said_apart_from_the_items() -> None:
    healthy = {
        "status": "healthy",
        "sources": [{"source": "x", "status": "healthy",
                     "lastPoll": {"finishedDateTime": "2026-12-07T08:46:00Z"}}],
    }  # fmt: skip
    assert polling_words(healthy, NOW) == (True, "Polling OK, last poll at 08:46 UTC, 2 min ago")
    stale = {"status": "unhealthy", "sources": [{"source": "synchronizationJobs",
                                                  "status": "stale"}]}  # fmt: skip
    ok, text = polling_words(stale, NOW)
    assert not ok and "Entra ID provisioning jobs has no recent poll" in text
