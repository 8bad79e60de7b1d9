"""A round: every enabled tenant polled (a few at a time), each with its own settings (the
app's, with the tenant's choices), its own rows (``StatusStore.for_tenant``) and its own
Graph client and token, so one tenant's refusal, outage or slowness never stops another.
After a tenant's poll, what Entra and Graph said of its token is kept as its consent state.

A tenant's poll needs nothing but the tenant: the same ``poll_tenant`` can run from a queue
message that names it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.core.errors import DomainError, SettingsError, StorageUnavailableError
from shared.core.time import utc_now
from shared.graph.credentials import ConsentProblem, consent_problem
from shared.graph.errors import GraphError
from shared.incidents.review import review_incidents
from shared.polling.engine import poll_all_sources
from shared.settings import Settings
from shared.storage.poll_runs import PollRun
from shared.storage.store import StatusStore
from shared.tenants.choices import tenant_settings
from shared.tenants.models import Consent, Tenant
from shared.tenants.registry import every_tenant, record_consent, scope_of

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)

# Tenants polled at once in one invocation (each polls its sources side by side).
TENANTS_AT_ONCE = 4
# A tenant's Graph client: for these settings, this tenant, with these seconds left.
MakeTenantGraph = Callable[[Settings, Tenant, float | None], "GraphClient"]


@dataclass
class TenantPoll:
    """One tenant's poll: its sources' records and its consent state after it."""

    tenant: Tenant
    consent: Consent
    runs: list[PollRun] = field(default_factory=list)
    # Incident notices its review queued (they wait for delivery, as changes' events do).
    notices: int = 0


async def poll_every_tenant(
    settings: Settings,
    store: StatusStore,
    make_graph: MakeTenantGraph,
    *,
    deadline_seconds: float | None = None,
) -> list[TenantPoll]:
    """Poll every enabled tenant once, TENANTS_AT_ONCE at a time, all within
    ``deadline_seconds``. A tenant that could not record its poll fails the invocation,
    after every other tenant was polled."""
    loop = asyncio.get_running_loop()
    ends = None if deadline_seconds is None else loop.time() + deadline_seconds
    limit = asyncio.Semaphore(TENANTS_AT_ONCE)

    async def one(tenant: Tenant) -> TenantPoll:
        async with limit:
            left = None if ends is None else max(1.0, ends - loop.time())
            return await poll_tenant(settings, store, tenant, make_graph, left)

    tenants = [tenant for tenant in await every_tenant(settings, store) if tenant.enabled]
    results = await asyncio.gather(*(one(tenant) for tenant in tenants), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if isinstance(result, TenantPoll)]


async def poll_tenant(
    settings: Settings,
    store: StatusStore,
    tenant: Tenant,
    make_graph: MakeTenantGraph,
    deadline_seconds: float | None = None,
) -> TenantPoll:
    """Poll one tenant's sources with its own settings, rows and token; keep its consent."""
    own = tenant_settings(settings, tenant)
    try:
        graph = make_graph(own, tenant, deadline_seconds)
    except SettingsError as error:  # no way to get this tenant a token (GRAPH_AUTH)
        consent = Consent(state="unavailable", code="graphAuth", message=error.message,
                          changedDateTime=utc_now())  # fmt: skip
        await record_consent(store, tenant, consent)
        return TenantPoll(tenant, consent)
    async with graph:
        # History, delivered events and logs are pruned once a day for every tenant at once.
        runs = await poll_all_sources(
            own, store.for_tenant(scope_of(tenant)), graph, prune=tenant.home
        )
    consent = consent_after(tenant, runs)
    await record_consent(store, tenant, consent)
    notices = await _review(own, store.for_tenant(scope_of(tenant)))
    return TenantPoll(tenant, consent, runs, notices)


async def _review(settings: Settings, store: StatusStore) -> int:
    """The tenant's incidents after its poll; never failing the poll (a review not made now
    is made at the next one: what it decides on is in the cache)."""
    try:
        return (await review_incidents(settings, store)).notices
    except (StorageUnavailableError, DomainError) as error:
        logger.warning("Incidents of tenant %s not reviewed: %s", store.scope.tenant_id, error)
        return 0


def consent_after(tenant: Tenant, runs: list[PollRun]) -> Consent:
    """The tenant's consent state after a poll: Entra's or Graph's refusal of the token
    (every source shares it), or every source refused (403: nothing granted), else
    consented when a source was read; an outage leaves the state as it was."""
    refusals = [(run.source_error, _problem_of(run)) for run in runs if run.source_error]
    for error, problem in refusals:
        if problem is not None and error.get("status") in (None, 401):
            return _consent(tenant, problem.state, problem.code, problem.message)
    forbidden = [problem for error, problem in refusals if error.get("status") == 403]
    if runs and len(forbidden) == len(runs) and forbidden[0] is not None:
        first = forbidden[0]
        return _consent(tenant, first.state, first.code, first.message)
    if any(run.outcome in ("succeeded", "partial") for run in runs):
        return _consent(tenant, "consented", None, None)
    return tenant.consent


def _problem_of(run: PollRun) -> ConsentProblem | None:
    error = run.source_error or {}
    return consent_problem(
        GraphError(error.get("status"), str(error.get("code", "")), str(error.get("message", "")))
    )


def _consent(tenant: Tenant, state: str, code: str | None, message: str | None) -> Consent:
    if (tenant.consent.state, tenant.consent.code) == (state, code):
        return tenant.consent
    return Consent.model_validate(
        {"state": state, "code": code, "message": message, "changedDateTime": utc_now()}
    )
