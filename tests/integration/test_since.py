"""Since when an item has its health, in Graph's own time where Graph says it: a job's
quarantine, a stalled job's last successful cycle, Entra Connect's last sync, a run's start
(``sinceDateTime``, ``sinceFrom: graph``); elsewhere the app's first sighting of the health
(``healthSince``, ``firstSeen``). Polled from the simulated tenant into Azurite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared import composition
from shared.core.time import parse_timestamp, utc_now
from tests.support.app import App
from tests.support.samples import SEED, SEED_ID
from tools import graph_tenant as graph

SP = "2d6f8a1b-3c4e-4f5a-8b6c-7d8e9f0a1b2c"
JOBS = "synchronizationJobs"
CONNECT = "directorySynchronization"
RUNS = "industryDataRuns"
SDS = "educationSynchronizationProfiles"


@pytest.fixture
def job_service_principal_ids() -> str:
    return SP


pytestmark = pytest.mark.usefixtures("all_sources")


async def row_of(app: App, source: str, item_id: str | None = None) -> dict[str, Any]:
    reply = await app.statuses(source=source)
    assert reply.status == 200, reply.body
    rows = reply.json()["value"]
    if item_id is None:
        (row,) = rows
        return row
    (row,) = [row for row in rows if row["id"] == item_id]
    return row


def graph_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(text: str) -> datetime:
    return parse_timestamp(text)


async def test_a_job_quarantined_3_h_ago_says_so_not_just_now(app: App, tenant: Any) -> None:
    job_id = tenant.add_job(SP, status=graph.quarantined_job_status())
    began = tenant.get_job(SP, job_id)["status"]["quarantine"]["currentBegan"]
    before = utc_now()
    await app.poll()
    row = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert row["health"] == "error"
    assert (row["sinceDateTime"], row["sinceFrom"]) == (began, "graph")
    assert at(began) < at(before) - timedelta(hours=3)
    # healthSince is what it was: when the app first saw the health.
    assert at(row["healthSince"]) >= at(before)


async def test_a_stalled_job_is_broken_since_its_last_successful_cycle(
    app: App, tenant: Any
) -> None:
    job_id = tenant.add_job(SP, status=graph.stalled_job_status(26))
    ended = tenant.get_job(SP, job_id)["status"]["lastSuccessfulExecution"]["timeEnded"]
    await app.poll()
    row = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert row["reason"].startswith("No successful provisioning cycle for 26 h")
    assert (row["sinceDateTime"], row["sinceFrom"]) == (ended, "graph")


async def test_a_failing_job_keeps_its_first_failures_time_through_the_next_cycles(
    app: App, tenant: Any
) -> None:
    job_id = tenant.add_job(SP, status=graph.failed_job_status())
    first = tenant.get_job(SP, job_id)["status"]["lastExecution"]["timeBegan"]
    await app.poll()
    row = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert (row["health"], row["sinceDateTime"], row["sinceFrom"]) == ("error", first, "graph")
    # The next cycle fails too, after the app first saw the failure: still broken since then.
    again = dict(tenant.get_job(SP, job_id)["status"]["lastExecution"], timeBegan=utc_now())
    tenant.set_job_status(SP, job_id, lastExecution=again, countSuccessiveCompleteFailures=4)
    await app.poll()
    later = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert (later["sinceDateTime"], later["sinceFrom"]) == (first, "graph")
    assert later["healthSince"] == row["healthSince"]
    # Healed: Graph gives no time of a healthy job's health; the app's own sighting it is.
    tenant.add_job(SP, job_id, status=graph.healthy_job_status())
    await app.poll()
    healed = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert healed["health"] == "healthy"
    assert (healed["sinceDateTime"], healed["sinceFrom"]) == (healed["healthSince"], "firstSeen")


async def test_a_stale_connect_is_broken_since_its_last_sync(app: App, tenant: Any) -> None:
    tenant.make_directory_sync_stale(minutes_ago=192)
    last = tenant.organization["onPremisesLastSyncDateTime"]
    await app.poll()
    row = await row_of(app, CONNECT)
    assert row["health"] == "error"
    assert (row["sinceDateTime"], row["sinceFrom"]) == (last, "graph")


async def test_a_connect_turning_stale_with_time_alone_writes_when_it_began(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRECTORY_SYNC_STALE_AFTER_MINUTES", "1")
    composition.reload_settings()
    last = graph_seconds(datetime.now(UTC) - timedelta(seconds=56))
    tenant.set_organization(
        onPremisesSyncEnabled=True,
        onPremisesLastSyncDateTime=last,
        onPremisesLastPasswordSyncDateTime=last,
    )
    await app.poll()
    healthy = await row_of(app, CONNECT)
    assert healthy["health"] == "healthy"
    assert (healthy["sinceDateTime"], healthy["sinceFrom"]) == (
        healthy["healthSince"],
        "firstSeen",
    )
    await asyncio.sleep(5)
    await app.poll()  # the very same document: the health changes with time alone
    stale = await row_of(app, CONNECT)
    assert stale["health"] == "error"
    assert (stale["sinceDateTime"], stale["sinceFrom"]) == (last, "graph")
    assert stale["healthSince"] > healthy["healthSince"]
    store = composition.services()[1]
    item = await store.statuses.get(CONNECT, stale["id"])
    assert item is not None and item.since_date_time == last  # merged with the health


async def test_a_run_has_its_health_since_it_started(app: App, tenant: Any) -> None:
    start = "2026-11-21T08:00:00.1234567Z"
    run_id = tenant.add_run("run-1", status="failed", start=start)
    await app.poll()
    row = await row_of(app, RUNS, run_id)
    assert (row["health"], row["sinceDateTime"], row["sinceFrom"]) == ("error", start, "graph")


async def test_a_profile_has_no_time_of_graphs_only_the_apps_first_sighting(
    app: App, tenant: Any
) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    tenant.add_profile("p-broken", status=dict(SEED, id="p-broken", status="error"))
    await app.poll()
    for profile_id in (SEED_ID, "p-broken"):
        row = await row_of(app, SDS, profile_id)
        assert row["healthSince"]
        assert (row["sinceDateTime"], row["sinceFrom"]) == (row["healthSince"], "firstSeen")


async def test_a_row_cached_before_the_column_reads_as_first_seen_until_graph_changes(
    app: App, tenant: Any
) -> None:
    job_id = tenant.add_job(SP, status=graph.quarantined_job_status())
    began = tenant.get_job(SP, job_id)["status"]["quarantine"]["seriesBegan"]
    await app.poll()
    # As the previous release cached it: every column but sinceDateTime (written as that
    # release did, straight to the table).
    settings = composition.settings()
    table = f"{settings.table_prefix}Statuses"
    connection = settings.storage.connection_string or ""
    async with TableClient.from_connection_string(connection, table) as client:
        entity = await client.get_entity(JOBS, f"{SP}:{job_id}")
        assert entity.pop("sinceDateTime") == began
        await client.update_entity(entity, mode=UpdateMode.REPLACE)
    old = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert (old["sinceDateTime"], old["sinceFrom"]) == (old["healthSince"], "firstSeen")
    await app.poll()  # Graph sends the same: nothing is written (no migration)
    same = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert (same["sinceDateTime"], same["sinceFrom"]) == (old["healthSince"], "firstSeen")
    # Graph changes it, still quarantined: the next write keeps Graph's time of it.
    tenant.set_job_status(SP, job_id, countSuccessiveCompleteFailures=7)
    await app.poll()
    written = await row_of(app, JOBS, f"{SP}:{job_id}")
    assert (written["sinceDateTime"], written["sinceFrom"]) == (began, "graph")
    assert written["healthSince"] == old["healthSince"]
