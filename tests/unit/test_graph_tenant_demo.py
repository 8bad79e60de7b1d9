"""The demo's fixed cycles, judged by the app's own health rules on what Graph serves: Slack's
job flaps (healthy, then error, at every tick), Entra Connect's outage resolves (stale past
the app's 120 minutes, then syncing at every tick) and comes back on a cycle, and the school
trust ticks neither."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shared.core.health import CHECKED_AT, Health, first_match
from shared.core.time import graph_timestamp, parse_timestamp, utc_now
from shared.sources.directory_synchronization import health as connect_health
from shared.sources.provisioning_jobs import health as job_health
from tools.graph_tenant import SimulatedTenant, demo_tick, populate_demo
from tools.graph_tenant.common import DEMO_INTERVAL_SECONDS
from tools.graph_tenant.demo import demo_tickers
from tools.graph_tenant.organization import (
    DEMO_CONNECT_DOWN_TICKS,
    DEMO_CONNECT_TICKS_DOWN_AT_START,
    DEMO_CONNECT_UP_TICKS,
    DEMO_SYNC_MINUTES_AGO,
    ConnectCycle,
    OrganizationArea,
)
from tools.graph_tenant.provisioning_demo import (
    DEMO_FLAPPING_JOB_ID,
    DEMO_FLAPPING_SERVICE_PRINCIPAL_ID,
)

FLAPPING_JOB = (
    f"/v1.0/servicePrincipals/{DEMO_FLAPPING_SERVICE_PRINCIPAL_ID}/synchronization/jobs/"
    f"{DEMO_FLAPPING_JOB_ID}"
)
ORGANIZATION = "/v1.0/organization"


async def job_health_now(client: httpx.AsyncClient) -> Health:
    """The flapping job's health as the app judges the job Graph serves (at its poll)."""
    job = (await client.get(FLAPPING_JOB)).json()
    context = {CHECKED_AT: utc_now(), job_health.STALL_AFTER: 24}
    rule = first_match(job_health.HEALTH_RULES, job, context)
    assert rule is not None, job
    return rule.health


async def connect_health_at(client: httpx.AsyncClient, minutes_from_now: float = 0) -> Health:
    """Connect's health as the app judges Graph's organization at a poll that many minutes
    from now (its default bound: 120 minutes)."""
    (organization,) = (await client.get(ORGANIZATION)).json()["value"]
    checked = parse_timestamp(utc_now()) + timedelta(minutes=minutes_from_now)
    context = {CHECKED_AT: graph_timestamp(checked), connect_health.STALE_AFTER: 120}
    rule = first_match(connect_health.HEALTH_RULES, organization, context)
    assert rule is not None, organization
    return rule.health


def ticks(tenant: SimulatedTenant, ids: list[str], rng: random.Random, count: int) -> None:
    for _ in range(count):
        demo_tick(tenant, ids, rng)


async def test_the_flapping_job_turns_error_and_healthy_by_turns_at_every_tick(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    rng = random.Random(1)
    ids = populate_demo(tenant, rng)
    seen = [await job_health_now(client)]
    for _ in range(5):
        demo_tick(tenant, ids, rng)
        seen.append(await job_health_now(client))

    assert seen == [Health.HEALTHY, Health.ERROR] * 3
    job = (await client.get(FLAPPING_JOB)).json()
    last = job["status"]["lastExecution"]
    assert job["templateId"] == "slack"
    assert (last["state"], job["status"]["code"]) == ("Failed", "Active")
    assert "did not answer" in last["error"]["message"]
    reason = job_health.job_reason(job, {CHECKED_AT: utc_now()})
    assert reason.startswith("Last run failed"), reason


async def test_the_flapping_job_stays_as_it_is_while_paused(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    rng = random.Random(1)
    ids = populate_demo(tenant, rng)
    demo_tick(tenant, ids, rng)
    tenant.set_job_status(DEMO_FLAPPING_SERVICE_PRINCIPAL_ID, DEMO_FLAPPING_JOB_ID, code="Paused")
    before = tenant.get_job(DEMO_FLAPPING_SERVICE_PRINCIPAL_ID, DEMO_FLAPPING_JOB_ID)

    ticks(tenant, ids, rng, 3)

    assert tenant.get_job(DEMO_FLAPPING_SERVICE_PRINCIPAL_ID, DEMO_FLAPPING_JOB_ID) == before


async def test_the_connect_outage_goes_stale_then_resolves_then_comes_back(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    rng = random.Random(1)
    ids = populate_demo(tenant, rng)
    remaining = DEMO_CONNECT_DOWN_TICKS - DEMO_CONNECT_TICKS_DOWN_AT_START
    stale_in = 120 - DEMO_SYNC_MINUTES_AGO + 1  # minutes

    # Started 117 minutes into the outage: healthy now, stale 3 minutes on (at 20 s a tick).
    assert DEMO_CONNECT_TICKS_DOWN_AT_START * DEMO_INTERVAL_SECONDS == DEMO_SYNC_MINUTES_AGO * 60
    assert await connect_health_at(client) == Health.HEALTHY
    assert await connect_health_at(client, stale_in) == Health.ERROR
    before = tenant.organization["onPremisesLastSyncDateTime"]
    ticks(tenant, ids, rng, remaining - 1)
    assert tenant.organization["onPremisesLastSyncDateTime"] == before  # still down
    assert await connect_health_at(client, stale_in) == Health.ERROR
    # Connect comes back: it syncs at every tick of the next 540.
    demo_tick(tenant, ids, rng)
    assert tenant.organization["onPremisesLastSyncDateTime"] > before
    assert await connect_health_at(client, stale_in) == Health.HEALTHY
    ticks(tenant, ids, rng, DEMO_CONNECT_UP_TICKS - 1)
    synced = tenant.organization["onPremisesLastSyncDateTime"]
    assert await connect_health_at(client, 119) == Health.HEALTHY
    # Down again: its last sync stays, stale once 120 minutes have passed since.
    ticks(tenant, ids, rng, DEMO_CONNECT_DOWN_TICKS)
    organization = tenant.organization
    assert organization["onPremisesLastSyncDateTime"] == synced
    assert organization["onPremisesLastPasswordSyncDateTime"] == synced
    assert await connect_health_at(client, 121) == Health.ERROR
    cycle = tenant.area(OrganizationArea).connect_cycle
    assert cycle is not None and cycle.down
    demo_tick(tenant, ids, rng)
    assert not cycle.down  # back: the next cycle begins


@pytest.mark.parametrize(
    ("down", "up", "start", "steps"),
    [
        (2, 1, 0, ["down", "resumed", "stopped", "down", "resumed"]),
        (1, 2, 1, ["synced", "stopped", "resumed", "synced"]),
        (3, 2, 7, ["resumed", "synced", "stopped"]),  # 7 is 2 into a 5-tick cycle
    ],
)
def test_a_connect_cycle_is_down_then_up_in_turn(
    down: int, up: int, start: int, steps: list[str]
) -> None:
    cycle = ConnectCycle(down, up, tick=start)

    assert [cycle.advance() for _ in steps] == steps


def test_a_connect_cycle_is_down_and_up_a_tick_at_least() -> None:
    with pytest.raises(ValueError, match="at least one tick"):
        ConnectCycle(0, 3)


def test_without_a_cycle_the_ticks_leave_the_organization_alone() -> None:
    tenant = SimulatedTenant()
    tenant.make_directory_sync_stale(200)
    before = tenant.organization

    assert tenant.advance_directory_sync() is None
    assert tenant.organization == before


def test_the_school_trust_ticks_its_profiles_only() -> None:
    tenant = SimulatedTenant()
    home, school = demo_tickers(tenant, demo=True, demo_tenants=True, seed=1)
    organization: dict[str, Any] = school.tenant.organization

    for _ in range(10):
        school.tick()

    assert home.tenant is tenant
    assert school.tenant.organization == organization
    assert organization["onPremisesSyncEnabled"] is None
    assert all(not jobs for jobs in school.tenant.service_principals.values())
