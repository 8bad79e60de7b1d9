"""The tenants `make run` watches besides its home tenant: the simulated Graph's school trust
and a company that has not consented yet, added to the registry through the API (as an admin
would) before the first poll. Added again on a later run, they answer 409: kept as they are.

With them, a maintenance window over the school trust's Industry Data runs, for the first
hours of the run (a planned SIS migration): their incidents open and resolve without notifying
meanwhile, and what is still broken when it ends is announced then. A later run finds it (the
window's reason says it is the demo's) and adds none while it lasts; once it is over, it is
replaced by one of the new run's, so windows do not pile up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from shared.core.time import graph_timestamp, parse_timestamp
from tools.graph_tenant import (
    DEMO_SCHOOL_TENANT_ID,
    DEMO_SCHOOL_TENANT_NAME,
    DEMO_UNCONSENTED_TENANT_ID,
    DEMO_UNCONSENTED_TENANT_NAME,
)

# A school trust syncs rosters (School Data Sync and Industry Data), nothing else.
_SCHOOL_SOURCES = {
    "synchronizationJobs": {"enabled": False},
    "directorySynchronization": {"enabled": False},
    "industryDataRuns": {"enabled": True},
}
DEMO_TENANTS = (
    (DEMO_SCHOOL_TENANT_ID, DEMO_SCHOOL_TENANT_NAME, _SCHOOL_SOURCES),
    (DEMO_UNCONSENTED_TENANT_ID, DEMO_UNCONSENTED_TENANT_NAME, {}),
)
# The demo's maintenance window: whose items, which source, for how long from the start.
DEMO_WINDOW_TENANT_ID = DEMO_SCHOOL_TENANT_ID
DEMO_WINDOW_SOURCE = "industryDataRuns"
DEMO_WINDOW_HOURS = 4.0
DEMO_WINDOW_REASON = "Planned: SIS migration (the demo's maintenance window)"
WINDOWS = "/api/maintenanceWindows"


async def register_demo_tenants(
    client: httpx.AsyncClient, *, window_hours: float = DEMO_WINDOW_HOURS
) -> list[str]:
    """Add the demo's other tenants and its maintenance window (``window_hours`` long from
    now; ``client`` has the host's base URL and master key); return what is wrong, if
    anything."""
    problems = []
    for tenant_id, name, sources in DEMO_TENANTS:
        body = {"tenantId": tenant_id, "displayName": name, "sources": sources}
        answer = await client.post("/api/tenants", json=body)
        if answer.status_code not in (201, 409):
            problems.append(f"{name}: {answer.status_code} {answer.text[:200]}")
    if not problems:
        problems += await add_demo_window(client, window_hours)
    return problems


async def add_demo_window(client: httpx.AsyncClient, hours: float) -> list[str]:
    """The demo's window from now for ``hours``, unless one of the demo's is in force or to
    come; the demo's windows that are over are removed first. Returns what went wrong."""
    query = {"tenantId": DEMO_WINDOW_TENANT_ID}
    listed = await client.get(WINDOWS, params=query)
    if listed.status_code != 200:
        return [f"maintenance windows: {listed.status_code} {listed.text[:200]}"]
    now = datetime.now(UTC)
    demo = [w for w in listed.json().get("value", []) if w.get("reason") == DEMO_WINDOW_REASON]
    if any(parse_timestamp(window["endDateTime"]) > now for window in demo):
        return []
    for window in demo:
        await client.delete(f"{WINDOWS}/{window['id']}", params=query)
    body = {
        "source": DEMO_WINDOW_SOURCE,
        "startDateTime": graph_timestamp(now),
        "endDateTime": graph_timestamp(now + timedelta(hours=hours)),
        "reason": DEMO_WINDOW_REASON,
    }
    added = await client.post(WINDOWS, params=query, json=body)
    if added.status_code != 201:
        return [f"the maintenance window: {added.status_code} {added.text[:200]}"]
    return []
