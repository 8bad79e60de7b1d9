"""A round fanned out on Storage Queues: the timer plans, the queue triggers poll.

The timer (a singleton) puts one message per enabled tenant on the poll queue, spread over
the first part of the interval so Graph and storage see an even load, and one message per
receiver with events waiting on the delivery queue. Each poll message is one tenant's poll
(``round.poll_tenant``, all its sources), on whichever instance takes it:

- one poll per tenant at a time: the poll takes the tenant's claim (``storage.rounds``); a
  message delivered twice, or a round that overlaps the last, finds it taken and is dropped
  and counted as a duplicate;
- a poll that fails is retried by the queue (``visibilityTimeout``); on its last delivery
  (``MAX_DELIVERIES``, host.json's ``maxDequeueCount``) the failure is kept on the tenant
  (``pollFailure``) before the host moves the message to the poison queue, and the next
  round tries again;
- a poll Graph throttled (429) is put back with Graph's Retry-After as its visibility delay,
  not retried at once;
- a poll that recorded changes (or queued incident notices) asks for delivery of every
  receiver's waiting events, so a slow receiver never holds a poll.

The poll and the delivery are idempotent and crash-safe already, which is what the queue's
at-least-once delivery needs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from shared.core.errors import DomainError, NotFoundError
from shared.core.retry_after import MAX_RETRY_AFTER_SECONDS
from shared.core.schedule import shortest_interval
from shared.core.time import graph_timestamp, utc_now
from shared.polling.round import MakeTenantGraph, poll_tenant
from shared.settings import POLL_SPREAD_SHARE, Settings
from shared.storage.poll_runs import PollRun
from shared.storage.queues import DeliveryOrder, PollOrder, QueueDelivery, QueueService
from shared.storage.rounds import PollClaim
from shared.storage.store import StatusStore
from shared.tenants.models import PollFailure, Tenant
from shared.tenants.registry import every_tenant, record_poll_failure, tenant_named

logger = logging.getLogger(__name__)

# host.json's extensions.queues.maxDequeueCount: the last delivery of a message before the
# host moves it to the poison queue (a test keeps the two equal).
MAX_DELIVERIES = 3
# Times a poll Graph keeps throttling is put back in one round before it waits for the next.
MAX_THROTTLED_ATTEMPTS = 5
# Seconds per tenant a round's messages are spread over, unless POLL_SPREAD_SECONDS says.
SPREAD_PER_TENANT = 0.5
# Messages sent at once while planning.
SENDS_AT_ONCE = 16
# A claim outlives its poll's deadline by this much (writing what was read), then ends.
CLAIM_MARGIN_SECONDS = 60
# How long a round's outcomes are kept (what /api/health and the benchmark read).
ROUNDS_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class RoundPlan:
    round_id: str
    tenants: int
    deliveries: int
    spread_seconds: float


async def plan_round(settings: Settings, store: StatusStore, queues: QueueService) -> RoundPlan:
    """Put the round's messages on the queues: one per enabled tenant (the home tenant's
    first, visible at once; the others spread over the spread), one per receiver with
    events waiting. A message that could not be sent fails the invocation, after the rest
    were sent (the next round sends them again)."""
    round_id = utc_now()
    tenants = [tenant for tenant in await every_tenant(settings, store) if tenant.enabled]
    spread = spread_seconds(settings, len(tenants))
    await store.rounds.plan(round_id, len(tenants))
    limit = asyncio.Semaphore(SENDS_AT_ONCE)

    async def send(index: int, tenant: Tenant) -> None:
        order = PollOrder(tenantId=tenant.tenantId, roundId=round_id)
        delay = spread * index / len(tenants)
        async with limit:
            await queues.send(settings.poll_queue, order.model_dump(), delay_seconds=delay)

    sent = await asyncio.gather(
        *(send(index, tenant) for index, tenant in enumerate(tenants)), return_exceptions=True
    )
    deliveries = await _ask_for_deliveries(settings, store, queues)
    with suppress(Exception):  # housekeeping: the next round tries again
        oldest = graph_timestamp(datetime.now(UTC) - ROUNDS_KEPT)
        await store.rounds.forget_before(oldest)
    for result in sent:
        if isinstance(result, BaseException):
            raise result
    logger.info(
        "Round %s planned: %d tenant(s) over %.0f s, %d delivery message(s)",
        round_id, len(tenants), spread, deliveries,
    )  # fmt: skip
    return RoundPlan(round_id, len(tenants), deliveries, spread)


def spread_seconds(settings: Settings, tenants: int) -> float:
    """Seconds a round's messages are spread over: POLL_SPREAD_SECONDS, else half a second
    per tenant, at most 30% of the schedule's shortest interval."""
    if settings.poll_spread_seconds is not None:
        return settings.poll_spread_seconds
    most = shortest_interval(settings.poll_schedule) * POLL_SPREAD_SHARE
    return min(SPREAD_PER_TENANT * max(tenants - 1, 0), most)


async def poll_from_queue(
    settings: Settings,
    store: StatusStore,
    queues: QueueService,
    make_graph: MakeTenantGraph,
    delivery: QueueDelivery,
) -> str:
    """One poll message: poll its tenant once, unless another poll of it runs; return what
    came of it (``polled``, ``requeued``, ``duplicate``, ``gone``, ``invalid``). A poll that
    fails raises, for the queue to try again."""
    try:
        order = PollOrder.model_validate_json(delivery.body)
    except ValidationError as error:
        # Never readable, however often tried: dropped (logged), not poisoned.
        logger.error("A poll message that is not one was dropped: %s", error.errors()[:1])
        return "invalid"
    try:
        tenant, _etag = await tenant_named(settings, store, order.tenantId)
    except (NotFoundError, DomainError):
        logger.info("Tenant %s is no longer registered: its poll is dropped", order.tenantId)
        return "gone"
    if not tenant.enabled:
        return "gone"
    claim = await _claim(settings, store, tenant, order, delivery)
    if claim is None:
        return "duplicate"
    started = time.monotonic()
    try:
        polled = await poll_tenant(
            settings, store, tenant, make_graph, settings.poll_deadline_seconds
        )
    except Exception as error:
        if delivery.dequeue_count >= MAX_DELIVERIES:
            await _keep_failure(store, tenant, order, delivery, error)
        raise
    finally:
        await _release(store, tenant, claim)
    seconds = round(time.monotonic() - started, 3)
    outcome = "polled"
    wait = throttled_for(polled.runs)
    if wait is not None and order.attempt < MAX_THROTTLED_ATTEMPTS:
        again = order.model_copy(update={"attempt": order.attempt + 1})
        await queues.send(settings.poll_queue, again.model_dump(), delay_seconds=wait)
        logger.info("Graph throttled tenant %s: polled again in %.0f s", tenant.tenantId, wait)
        outcome = "requeued"
    await record_poll_failure(store, tenant, None)
    await store.rounds.record(
        order.roundId, tenant.tenantId, outcome, seconds=seconds,
        dequeueCount=delivery.dequeue_count, attempt=order.attempt,
    )  # fmt: skip
    if polled.notices or any(_wrote(run) for run in polled.runs):
        await _ask_for_deliveries(settings, store, queues)
    return outcome


async def _claim(
    settings: Settings,
    store: StatusStore,
    tenant: Tenant,
    order: PollOrder,
    delivery: QueueDelivery,
) -> PollClaim | None:
    """The tenant's claim for this poll, or None (the duplicate recorded) when another poll
    of it holds the claim."""
    claim = await store.rounds.claim(
        tenant.tenantId, delivery.message_id, delivery.dequeue_count, utc_now(),
        settings.poll_deadline_seconds + CLAIM_MARGIN_SECONDS,
    )  # fmt: skip
    if claim is None:
        logger.warning(
            "Tenant %s is being polled already: message %s (delivery %d) dropped",
            tenant.tenantId, delivery.message_id, delivery.dequeue_count,
        )  # fmt: skip
        await store.rounds.record_duplicate(
            order.roundId, tenant.tenantId, delivery.message_id, delivery.dequeue_count
        )
    return claim


def throttled_for(runs: list[PollRun]) -> float | None:
    """Seconds Graph asked a throttled (429) poll to wait (the longest its sources were
    told, capped), or None when no source was throttled."""
    waits = [
        float(run.source_error.get("retryAfter") or 1.0)
        for run in runs
        if run.source_error and run.source_error.get("status") == 429
    ]
    return min(max(waits), MAX_RETRY_AFTER_SECONDS) if waits else None


def _wrote(run: PollRun) -> bool:
    """Whether the poll recorded changes (events may wait for a receiver)."""
    return run.changes_recorded > 0


async def _ask_for_deliveries(settings: Settings, store: StatusStore, queues: QueueService) -> int:
    targets = await store.outbox.targets()
    for target in targets:
        await queues.send(settings.delivery_queue, DeliveryOrder(target=target).model_dump())
    return len(targets)


async def _keep_failure(
    store: StatusStore,
    tenant: Tenant,
    order: PollOrder,
    delivery: QueueDelivery,
    error: Exception,
) -> None:
    """The last try failed: say so on the tenant and in the round (never raising: the
    host's poison queue takes the message either way)."""
    code = (error.code if isinstance(error, DomainError) else None) or type(error).__name__
    failure = PollFailure(
        code=str(code), message=str(error)[:500] or type(error).__name__,
        failedDateTime=utc_now(), roundId=order.roundId, attempts=delivery.dequeue_count,
    )  # fmt: skip
    logger.error("Tenant %s was not polled in round %s: %s", tenant.tenantId, order.roundId, code)
    with suppress(Exception):
        await record_poll_failure(store, tenant, failure)
        await store.rounds.record(order.roundId, tenant.tenantId, "failed", code=str(code))


async def _release(store: StatusStore, tenant: Tenant, claim: PollClaim) -> None:
    try:
        await store.rounds.release(tenant.tenantId, claim)
    except Exception as error:  # it ends by itself; the poll's outcome stands
        logger.warning("The claim on tenant %s was not given back: %s", tenant.tenantId, error)
