"""The demo tenant (``--demo``): schools, provisioning jobs (and their logs), Industry Data
runs and a hybrid organization in every interesting state, some of which change on every tick,
so that a poller sees Graph change under it. Each area adds and moves its own part.

Besides the schools and runs that move at random, two things follow a fixed cycle of ticks
(20 s each by default, :data:`~tools.graph_tenant.common.DEMO_INTERVAL_SECONDS`): Slack's
provisioning job flaps (each tick runs a cycle, failing and succeeding by turns: an error,
then healthy), and Entra Connect is down for 3 hours (stale past 2 hours), then syncs at every
tick for 3 hours (the tenant starts 117 minutes into an outage).

``--demo-tenants`` serves two more tenants from the same server: a school trust whose
profiles and runs are in mixed health, and a company that has not consented to the app."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.graph_tenant.education import (
    advance_demo_profiles,
    populate_demo_schools,
    populate_profiles,
)
from tools.graph_tenant.industry_data import advance_demo_runs, populate_demo_runs, populate_runs
from tools.graph_tenant.organization import populate_demo_organization
from tools.graph_tenant.provisioning_demo import advance_flapping_job, populate_demo_provisioning

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

# The demo's other tenants (uuid5 of "tenant/school" and "tenant/unconsented" in the namespace
# of generated ids), what they are called, and the seed of their generated data (one whose
# profiles and runs are in mixed health: successes, errors, a quarantine, a run with errors).
DEMO_SCHOOL_TENANT_ID = "8eeb07c6-b1f5-556a-9e1d-cf9748d7e83a"
DEMO_SCHOOL_TENANT_NAME = "Northwind Academy Trust"
DEMO_UNCONSENTED_TENANT_ID = "cdfbf868-fa07-53ec-88c7-539326babdbe"
DEMO_UNCONSENTED_TENANT_NAME = "Tailspin Toys"
DEMO_TENANTS_SEED = 9
DEMO_SCHOOL_PROFILES = 6
DEMO_SCHOOL_RUNS = 4


def populate_demo(tenant: SimulatedTenant, rng: random.Random) -> list[str]:
    """Add the demo: schools in each interesting state (returns their ids), the service
    principals of :data:`DEMO_PRINCIPALS` with their jobs among hundreds without, the
    provisioning logs of the cross-tenant job, a job that flaps, Industry Data runs, and an
    organization whose directory sync stopped 117 minutes before now, until the ticks bring
    it back (and stop it again, on a cycle).

    Only the schools draw on ``rng``; the rest is the same on every start.
    """
    now = time.time_ns()
    ids = populate_demo_schools(tenant, rng, now)
    populate_demo_provisioning(tenant, now)
    populate_demo_runs(tenant, now)
    populate_demo_organization(tenant, now)
    return ids


def demo_tick(tenant: SimulatedTenant, ids: Sequence[str], rng: random.Random) -> None:
    """Advance some of the demo profiles and the newest run, the flapping job's cycle and the
    Connect cycle (each where the tenant has it), so that a poller sees Graph change under
    it."""
    now = time.time_ns()
    advance_demo_profiles(tenant, ids, rng, now)
    advance_demo_runs(tenant, rng, now)
    advance_flapping_job(tenant, now)
    tenant.advance_directory_sync(now)


@dataclass(frozen=True)
class DemoTicker:
    """A tenant whose demo data moves: what each tick is given."""

    tenant: SimulatedTenant
    ids: Sequence[str]
    rng: random.Random

    def tick(self) -> None:
        demo_tick(self.tenant, self.ids, self.rng)


def demo_tickers(
    tenant: SimulatedTenant, *, demo: bool, demo_tenants: bool, seed: int
) -> list[DemoTicker]:
    """Add the demo (``demo``, its schools drawn with ``seed``) and the demo's other tenants
    (``demo_tenants``) to ``tenant``; returns what each tick moves, one per tenant that
    changes (``--demo``'s loops tick these; a caller of its own may tick them itself)."""
    tickers = []
    if demo:
        rng = random.Random(seed)
        tickers.append(DemoTicker(tenant, populate_demo(tenant, rng), rng))
    if demo_tenants:
        school, _ = populate_demo_tenants(tenant)
        tickers.append(DemoTicker(school, list(school.profiles), random.Random(DEMO_TENANTS_SEED)))
    return tickers


async def run_demo(
    tenant: SimulatedTenant, ids: Sequence[str], interval: float, rng: random.Random
) -> None:
    """Tick the demo every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        demo_tick(tenant, ids, rng)


def populate_demo_tenants(tenant: SimulatedTenant) -> tuple[SimulatedTenant, SimulatedTenant]:
    """Serve the demo's other tenants from ``tenant``'s server: the school trust
    (:data:`DEMO_SCHOOL_TENANT_ID`, consented, School Data Sync profiles and Industry Data
    runs in mixed health) and Tailspin Toys (:data:`DEMO_UNCONSENTED_TENANT_ID`, which has not
    consented: its tokens are refused until it does, then it shows two profiles). Returns
    them, the school first; the same on every start."""
    school = tenant.add_tenant(DEMO_SCHOOL_TENANT_ID, display_name=DEMO_SCHOOL_TENANT_NAME)
    populate_profiles(school, DEMO_SCHOOL_PROFILES, DEMO_TENANTS_SEED)
    populate_runs(school, DEMO_SCHOOL_RUNS, DEMO_TENANTS_SEED)
    unconsented = tenant.add_tenant(
        DEMO_UNCONSENTED_TENANT_ID, consented=False, display_name=DEMO_UNCONSENTED_TENANT_NAME
    )
    populate_profiles(unconsented, 2, DEMO_TENANTS_SEED + 1)
    return school, unconsented
