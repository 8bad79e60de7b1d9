"""The demo tenant (``--demo``): schools, provisioning jobs (and their logs), Industry Data
runs and a hybrid organization in every interesting state, some of which change on every tick,
so that a poller sees Graph change under it. Each area adds and moves its own part."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tools.graph_tenant.education import advance_demo_profiles, populate_demo_schools
from tools.graph_tenant.industry_data import advance_demo_runs, populate_demo_runs
from tools.graph_tenant.organization import populate_demo_organization
from tools.graph_tenant.provisioning_demo import populate_demo_provisioning

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant


def populate_demo(tenant: SimulatedTenant, rng: random.Random) -> list[str]:
    """Add the demo: schools in each interesting state (returns their ids), the service
    principals of :data:`DEMO_PRINCIPALS` with their jobs among hundreds without, the
    provisioning logs of the cross-tenant job, Industry Data runs, and an organization whose
    directory sync stops 117 minutes before now.

    Only the schools draw on ``rng``; the rest is the same on every start.
    """
    now = time.time_ns()
    ids = populate_demo_schools(tenant, rng, now)
    populate_demo_provisioning(tenant, now)
    populate_demo_runs(tenant, now)
    populate_demo_organization(tenant, now)
    return ids


def demo_tick(tenant: SimulatedTenant, ids: Sequence[str], rng: random.Random) -> None:
    """Advance some of the demo profiles and the newest run, so that a poller sees Graph
    change under it."""
    now = time.time_ns()
    advance_demo_profiles(tenant, ids, rng, now)
    advance_demo_runs(tenant, rng, now)


async def run_demo(
    tenant: SimulatedTenant, ids: Sequence[str], interval: float, rng: random.Random
) -> None:
    """Tick the demo every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        demo_tick(tenant, ids, rng)
