"""The tenants `make run` watches besides its home tenant: the simulated Graph's school trust
and a company that has not consented yet, added to the registry through the API (as an admin
would) before the first poll. Added again on a later run, they answer 409: kept as they are."""

from __future__ import annotations

import httpx

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


async def register_demo_tenants(client: httpx.AsyncClient) -> list[str]:
    """Add the demo's other tenants (``client`` has the host's base URL and master key);
    return what is wrong, if anything."""
    problems = []
    for tenant_id, name, sources in DEMO_TENANTS:
        body = {"tenantId": tenant_id, "displayName": name, "sources": sources}
        answer = await client.post("/api/tenants", json=body)
        if answer.status_code not in (201, 409):
            problems.append(f"{name}: {answer.status_code} {answer.text[:200]}")
    return problems
