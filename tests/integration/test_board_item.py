"""The board's item page over the real handlers, polled from the simulated tenant into
Azurite: Industry Data runs one row per flow on the board (the newest run deciding), every
run of the flow listed on a run's page; a provisioning job's next steps (when Entra retries
a quarantined job, Graph's troubleshooting link only when https to Microsoft, the Entra admin
center's page of its app), Entra Connect's and School Data Sync's; and jobs sharing a name
told apart by a tag, on the board and in the item page's heading."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import composition
from tests.support.app import App
from tools import graph_tenant as graph

SP = "3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c01"
OTHER_SP = "3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c02"
RUNS = "industryDataRuns"
JOBS = "synchronizationJobs"
CONNECT = "directorySynchronization"
SDS = "educationSynchronizationProfiles"
PROVISIONING = (
    "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/"
    "ProvisioningManagement/objectId/"
)
CONNECT_CENTER = (
    "https://entra.microsoft.com/#view/Microsoft_AAD_Connect_Provisioning/"
    "AADConnectMenuBlade/~/GetStarted"
)
SDS_PORTAL = "https://sds.microsoft.com/"
KEY = "item-key"


@pytest.fixture
def job_service_principal_ids() -> str:
    return SP


pytestmark = pytest.mark.usefixtures("all_sources")


async def item_page(app: App, source: str, item_id: str) -> str:
    reply = await app.call("board_item", params={"source": source, "id": item_id, "code": KEY})
    assert reply.status == 200, reply.body
    return reply.body.decode()


async def board_page(app: App, source: str) -> str:
    reply = await app.call("board", params={"source": source, "code": KEY})
    assert reply.status == 200, reply.body
    return reply.body.decode()


def board_rows(page: str) -> list[str]:
    """The board's item rows, as HTML, in the order shown."""
    return re.findall(r'<tr data-health="\w+">.*?</tr>', page, re.DOTALL)


def outside_document(page: str) -> str:
    """The page without its "As Graph sent it" block (the document, verbatim and escaped)."""
    return re.sub(r"<pre>.*?</pre>", "", page, flags=re.DOTALL)


def steps_of(page: str) -> str:
    found = re.search(r'<ul class="steps">(.*?)</ul>', page, re.DOTALL)
    assert found, "the page has no next steps"
    return found[1]


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Industry Data runs: one row per flow ---------------------------------------------------

ROSTER = "Nightly roster"


def add_runs(tenant: Any, outcomes: tuple[str, str, str]) -> None:
    """Three runs of the roster flow, a day apart (oldest first), and one run of another."""
    runs = zip(("r-old", "r-mid", "r-new"), outcomes, strict=True)
    for day, (run_id, status) in enumerate(runs, 10):
        tenant.add_run(
            run_id,
            display_name=f"{ROSTER} 2026-01-{day} 02:00 UTC",
            status=status,
            start=f"2026-01-{day}T02:00:00.1234567Z",
        )
    tenant.add_run(
        "a-one",
        display_name="Attendance import 2026-01-12T03:00:00Z",
        status="failed",
        start="2026-01-12T03:00:00Z",
    )


@pytest.mark.parametrize(
    ("outcomes", "roster_health"),
    [
        (("failed", "failed", "completed"), "healthy"),  # a newer success supersedes
        (("completed", "completed", "failed"), "error"),  # a newer failure is the news
    ],
)
async def test_a_flows_runs_are_one_row_the_newest_deciding(
    app: App, tenant: Any, outcomes: tuple[str, str, str], roster_health: str
) -> None:
    add_runs(tenant, outcomes)
    await app.poll()
    rows = board_rows(await board_page(app, RUNS))
    assert len(rows) == 2  # one row per flow, not one per run
    (roster,) = [row for row in rows if ROSTER in row]
    (other,) = [row for row in rows if "Attendance import" in row]
    assert f'data-health="{roster_health}"' in roster and 'data-health="error"' in other
    assert "id=r-new" in roster and "r-old" not in roster and "r-mid" not in roster
    assert "latest run; 2 older on its page" in roster
    assert "older on its page" not in other  # a flow of one run hides nothing


async def test_a_runs_page_lists_every_run_of_its_flow_newest_first(app: App, tenant: Any) -> None:
    add_runs(tenant, ("failed", "failed", "completed"))
    await app.poll()
    page = await item_page(app, RUNS, "r-mid")
    assert "<h2>Runs of this flow, newest first</h2>" in page
    table = page[page.index('<table class="cards runs">') : page.index("History, newest first")]
    assert re.findall(r'<tr data-run="([^"]+)"', table) == ["r-new", "r-mid", "r-old"]
    healths = re.findall(r'<tr data-run="[^"]+"[^>]*><td><span class="health (\w+)"', table)
    assert healths == ["healthy", "error", "error"]
    assert "a-one" not in table  # another flow's run
    (current,) = re.findall(r'<tr data-run="([^"]+)" aria-current="true">', table)
    assert current == "r-mid" and table.count("(this one)") == 1
    this_row = table[table.index('data-run="r-mid"') : table.index('data-run="r-old"')]
    assert "(this one)" in this_row
    links = re.findall(r'<a href="([^"]+)" class="token">', table)
    assert links == [
        f"/api/board/item?source={RUNS}&amp;id={run}&amp;code={KEY}"
        for run in ("r-new", "r-mid", "r-old")
    ]
    # A flow of one run has no list of its runs.
    assert "Runs of this flow" not in await item_page(app, RUNS, "a-one")


# -- next steps -----------------------------------------------------------------------------


def quarantined(next_attempt: datetime, url: str | None) -> dict[str, Any]:
    status = graph.quarantined_job_status()
    status["quarantine"]["nextAttempt"] = graph_time(next_attempt)
    status["troubleshootingUrl"] = url
    return status


def clock_pattern(moment: datetime) -> str:
    """The board's clock of ``moment`` (``14:05 UTC``, or with its day before it)."""
    return r"(?:[A-Z][a-z]{2} \d{1,2}, |\d{4}-\d{2}-\d{2} )?" + moment.strftime("%H:%M UTC")


async def test_a_quarantined_jobs_page_says_when_entra_retries(app: App, tenant: Any) -> None:
    tenant.add_service_principal(SP, display_name="Canvas LMS")
    attempt = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2, minutes=30, seconds=40)
    job_id = tenant.add_job(SP, template_id="scim", status=quarantined(attempt, None))
    await app.poll()
    page = await item_page(app, JOBS, f"{SP}:{job_id}")
    steps = steps_of(page)
    assert re.search(rf"<li>Entra retries at {clock_pattern(attempt)}, in 2 h 30 min</li>", steps)
    entra = f'<a href="{PROVISIONING}{SP}" rel="noreferrer noopener">'
    assert entra + "The app&#39;s provisioning in the Entra admin center</a>" in steps
    assert "troubleshooting" not in steps  # Graph sent none
    assert SDS_PORTAL not in page and CONNECT_CENTER not in page


async def test_a_retry_already_due_is_said_as_due(app: App, tenant: Any) -> None:
    attempt = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    job_id = tenant.add_job(SP, template_id="scim", status=quarantined(attempt, None))
    await app.poll()
    steps = steps_of(await item_page(app, JOBS, f"{SP}:{job_id}"))
    assert re.search(rf"<li>Entra was due to retry at {clock_pattern(attempt)}</li>", steps)
    assert "Entra retries" not in steps


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://learn.microsoft.com/entra/identity/app-provisioning/quarantine", True),
        ("https://aka.ms/provisioning-quarantine", True),
        ("https://evil.example/entra/identity/app-provisioning/quarantine", False),
        ("http://learn.microsoft.com/entra/identity/app-provisioning/quarantine", False),
        ("https://learn.microsoft.com.evil.example/quarantine", False),
        ("https://notmicrosoft.com/quarantine", False),
        ("javascript:alert(1)//learn.microsoft.com", False),
    ],
)
async def test_graphs_troubleshooting_link_is_shown_only_when_https_to_microsoft(
    app: App, tenant: Any, url: str, shown: bool
) -> None:
    attempt = datetime.now(UTC) + timedelta(hours=4)
    job_id = tenant.add_job(SP, template_id="scim", status=quarantined(attempt, url))
    await app.poll()
    page = await item_page(app, JOBS, f"{SP}:{job_id}")
    link = f'<a href="{url}" rel="noreferrer noopener">Graph&#39;s troubleshooting guide</a>'
    if shown:
        assert link in steps_of(page)
    else:
        # Only in what Graph sent, shown as escaped text: never a link, nor anywhere else.
        assert url in page and url not in outside_document(page)
        assert "troubleshooting guide" not in page
    assert f'href="{PROVISIONING}{SP}"' in page  # the admin center's link is there either way


async def test_connects_page_links_to_entra_connect(app: App, tenant: Any) -> None:
    synced = graph_time(datetime.now(UTC) - timedelta(minutes=10))
    tenant.set_organization(
        onPremisesSyncEnabled=True,
        onPremisesLastSyncDateTime=synced,
        onPremisesLastPasswordSyncDateTime=synced,
    )
    await app.poll()
    (row,) = (await app.statuses(source=CONNECT)).json()["value"]
    steps = steps_of(await item_page(app, CONNECT, row["id"]))
    assert f'<a href="{CONNECT_CENTER}" rel="noreferrer noopener">' in steps
    assert "Entra Connect in the Entra admin center</a>" in steps
    assert SDS_PORTAL not in steps and PROVISIONING not in steps


async def test_sds_and_industry_data_pages_link_to_the_sds_portal(app: App, tenant: Any) -> None:
    tenant.add_profile("roster-2026", display_name="District roster")
    tenant.add_run("run-1", display_name="Inbound flow 2026-01-10", status="completed")
    await app.poll()
    for source, item_id in ((SDS, "roster-2026"), (RUNS, "run-1")):
        steps = steps_of(await item_page(app, source, item_id))
        assert f'<a href="{SDS_PORTAL}" rel="noreferrer noopener">School Data Sync</a>' in steps
        assert "entra.microsoft.com" not in steps


# -- twin names -----------------------------------------------------------------------------

NAME = "Canvas LMS: SCIM app provisioning"
TWINS = [
    # One app with two jobs of one template: the job ids' tails tell them apart.
    pytest.param(
        [(SP, "scim.0a1b2c3d.1111aaaa"), (SP, "scim.4e5f6a7b.2222bbbb")],
        ["scim…aaaa", "scim…bbbb"],
        id="one-app",
    ),
    # Two apps of one name, their jobs of one id: the apps' id tails tell them apart.
    pytest.param(
        [(SP, "scim.0a1b2c3d.1111aaaa"), (OTHER_SP, "scim.0a1b2c3d.1111aaaa")],
        ["scim…aaaa · app …0c01", "scim…aaaa · app …0c02"],
        id="two-apps",
    ),
]


def tag_html(tag: str) -> str:
    return f'<span class="tag token"><bdi>{tag}</bdi></span>'


async def add_twins(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch, jobs: list[tuple[str, str]]
) -> None:
    """Both apps named Canvas LMS, polled, with the jobs given (all of template scim)."""
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", f"{SP},{OTHER_SP}")
    composition.reload_settings()
    for sp_id in (SP, OTHER_SP):
        tenant.add_service_principal(sp_id, display_name="Canvas LMS")
    for sp_id, job_id in jobs:
        tenant.add_job(sp_id, job_id, template_id="scim")
    await app.poll()


@pytest.mark.parametrize(("jobs", "tags"), TWINS)
async def test_jobs_of_one_name_have_different_tags_on_the_board(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch,
    jobs: list[tuple[str, str]], tags: list[str],
) -> None:  # fmt: skip
    await add_twins(app, tenant, monkeypatch, jobs)
    rows = board_rows(await board_page(app, JOBS))
    assert len(rows) == len(jobs)
    for (sp_id, job_id), tag in zip(jobs, tags, strict=True):
        (row,) = [row for row in rows if f"id={sp_id}%3A{job_id}&amp;" in row]
        assert f"<bdi>{NAME}</bdi></a> {tag_html(tag)}" in row


@pytest.mark.parametrize(("jobs", "tags"), TWINS)
async def test_a_twins_page_heading_shows_its_tag(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch,
    jobs: list[tuple[str, str]], tags: list[str],
) -> None:  # fmt: skip
    await add_twins(app, tenant, monkeypatch, jobs)
    headings = [
        re.findall(r"<h1>.*?</h1>", await item_page(app, JOBS, f"{sp_id}:{job_id}"))
        for sp_id, job_id in jobs
    ]
    assert headings == [[f"<h1><bdi>{NAME}</bdi> {tag_html(tag)}</h1>"] for tag in tags]


async def test_a_job_whose_name_is_its_own_has_no_tag(app: App, tenant: Any) -> None:
    tenant.add_service_principal(SP, display_name="Canvas LMS")
    first = tenant.add_job(SP, template_id="scim")
    second = tenant.add_job(SP, template_id="Workday2AAD")  # another kind: another name
    await app.poll()
    page = await board_page(app, JOBS)
    assert len(board_rows(page)) == 2 and 'class="tag token"' not in page
    for job_id in (first, second):
        item = await item_page(app, JOBS, f"{SP}:{job_id}")
        assert re.search(r"<h1><bdi>Canvas LMS: [^<]+</bdi></h1>", item)
