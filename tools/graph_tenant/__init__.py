"""A simulated Microsoft Graph tenant: School Data Sync profiles, Entra ID provisioning jobs (and
the service principals, and the provisioning logs), Industry Data runs and the organization.

The real education synchronization API stopped returning data at the end of 2024, so the app
can only be exercised against a stand-in. This one mirrors the parts of Graph the app relies
on: paged listings with opaque ``@odata.nextLink`` tokens, the evolvable-enum rule behind
``Prefer: include-unknown-enum-members``, Graph-shaped error bodies, JSON batching
(``$batch``), a throttling budget answered with ``429`` and ``Retry-After``, and resources served
byte for byte as stored (Int64 counts, 7-digit fractional timestamps, ``\\r\\n`` in messages).

Each Graph API ("source", "area") is a module: ``education`` (SDS classic profiles and their
``profileStatus``, beta), ``provisioning`` (the service principals, listed by
``service_principals``, and their synchronization jobs, v1.0: Graph has no tenant-wide list of
jobs, so clients list the principals and ask each; ``provisioning_actions`` starts, pauses and
restarts them, and logs each action), ``industry_data`` (Industry Data runs and
their ``getStatistics``, short and OData function form, beta), ``organization`` (the
organization and its on-premises sync times, v1.0 and beta) and ``provisioning_logs``
(``auditLogs/provisioning``, filtered and throttled as Graph's identity reports are, v1.0).
``areas.AREAS`` lists them; a new Graph API is one more module and one more entry there.
A ``$select`` of a property the type lacks in the version asked is refused with Graph's 400
(``selection``: each version's properties from Microsoft's SDK models).

Tests steer the tenant in-process through :class:`SimulatedTenant` (same event loop as the code
under test), or over HTTP through the ``/_tenant/`` control API when it runs as a subprocess
(``python -m tools.graph_tenant``). Faults (throttling, server errors, slow or truncated
answers) and the refusal of a retired API can be switched on per path. Every Graph answer,
``$batch`` sub-requests included, takes the same path (``SimulatedTenant._answer``), so that
each behaves exactly like a top-level request.

One server serves several tenants (``tenants``): the parent, :data:`DEFAULT_TENANT_ID` unless
told otherwise, and those :meth:`SimulatedTenant.add_tenant` adds, each steered as the parent
is. A request goes to the tenant its bearer token's ``tid`` names (read, never verified: the
app's ``GRAPH_AUTH=simulated`` mints unsigned tokens, :func:`unsigned_token`); without a
token, or without a ``tid``, to the parent. An unknown tenant, one that has not consented and a
token that is no JWT are answered 401, as Entra ID would. The control API steers the tenant
``?tenantId=`` names.
"""

from __future__ import annotations

from tools.graph_tenant.areas import AREAS, Area
from tools.graph_tenant.common import decode_skiptoken, graph_timestamp
from tools.graph_tenant.demo import (
    DEMO_SCHOOL_TENANT_ID,
    DEMO_SCHOOL_TENANT_NAME,
    DEMO_UNCONSENTED_TENANT_ID,
    DEMO_UNCONSENTED_TENANT_NAME,
    demo_tick,
    populate_demo,
    populate_demo_tenants,
)
from tools.graph_tenant.education import (
    DEMO_SCHOOLS,
    evolve_status,
    next_demo_status,
    populate_profiles,
)
from tools.graph_tenant.industry_data import populate_runs
from tools.graph_tenant.industry_data_resources import (
    blocking_error,
    empty_run_statistics,
    run_resource,
    run_statistics,
)
from tools.graph_tenant.misbehaviour import Fault
from tools.graph_tenant.organization import default_organization
from tools.graph_tenant.provisioning_demo import (
    DEMO_CLOUD_SYNC_SERVICE_PRINCIPAL_ID,
    DEMO_CROSS_TENANT_JOB_ID,
    DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID,
    DEMO_DROPBOX_SERVICE_PRINCIPAL_ID,
    DEMO_IDLE_SERVICE_PRINCIPALS,
    DEMO_JOB_SERVICE_PRINCIPAL_IDS,
    DEMO_PRINCIPALS,
    DEMO_REFUSED_SERVICE_PRINCIPAL_ID,
    DEMO_SERVICE_PRINCIPAL_IDS,
    DEMO_STALLED_SERVICE_PRINCIPAL_ID,
    populate_jobs,
)
from tools.graph_tenant.provisioning_log_resources import (
    provisioning_error,
    provisioning_event,
    provisioning_failure,
    provisioning_success,
)
from tools.graph_tenant.provisioning_resources import (
    entry_level_errors_job_status,
    failed_job_status,
    healthy_job_status,
    job_resource,
    job_status,
    quarantined_job_status,
    stalled_job_status,
)
from tools.graph_tenant.server import RecordedRequest, SimulatedTenant
from tools.graph_tenant.service_principals import populate_service_principals
from tools.graph_tenant.tenants import DEFAULT_TENANT_ID, bearer_claims, unsigned_token

__all__ = [
    "AREAS",
    "DEFAULT_TENANT_ID",
    "DEMO_CLOUD_SYNC_SERVICE_PRINCIPAL_ID",
    "DEMO_CROSS_TENANT_JOB_ID",
    "DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID",
    "DEMO_DROPBOX_SERVICE_PRINCIPAL_ID",
    "DEMO_IDLE_SERVICE_PRINCIPALS",
    "DEMO_JOB_SERVICE_PRINCIPAL_IDS",
    "DEMO_PRINCIPALS",
    "DEMO_REFUSED_SERVICE_PRINCIPAL_ID",
    "DEMO_SCHOOLS",
    "DEMO_SCHOOL_TENANT_ID",
    "DEMO_SCHOOL_TENANT_NAME",
    "DEMO_SERVICE_PRINCIPAL_IDS",
    "DEMO_STALLED_SERVICE_PRINCIPAL_ID",
    "DEMO_UNCONSENTED_TENANT_ID",
    "DEMO_UNCONSENTED_TENANT_NAME",
    "Area",
    "Fault",
    "RecordedRequest",
    "SimulatedTenant",
    "bearer_claims",
    "blocking_error",
    "decode_skiptoken",
    "default_organization",
    "demo_tick",
    "empty_run_statistics",
    "entry_level_errors_job_status",
    "evolve_status",
    "failed_job_status",
    "graph_timestamp",
    "healthy_job_status",
    "job_resource",
    "job_status",
    "next_demo_status",
    "populate_demo",
    "populate_demo_tenants",
    "populate_jobs",
    "populate_profiles",
    "populate_runs",
    "populate_service_principals",
    "provisioning_error",
    "provisioning_event",
    "provisioning_failure",
    "provisioning_success",
    "quarantined_job_status",
    "run_resource",
    "run_statistics",
    "stalled_job_status",
    "unsigned_token",
]
