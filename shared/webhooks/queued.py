"""Delivery from the delivery queue: one message per receiver with events waiting, so a slow
receiver never holds a poll. One instance delivers to a receiver at a time (a claim), which
keeps its events in order; a message that finds the claim taken is dropped, since the
delivery under way POSTs whatever waits, and the next round asks again."""

from __future__ import annotations

import logging
from contextlib import suppress

from pydantic import ValidationError

from shared.core.time import utc_now
from shared.settings import Settings
from shared.storage.queues import DeliveryOrder, QueueDelivery
from shared.storage.store import StatusStore
from shared.webhooks.delivery import DELIVERY_BUDGET_SECONDS, deliver_pending

logger = logging.getLogger(__name__)

# A delivery holds its receiver's claim a little longer than its own time budget.
DELIVERY_CLAIM_SECONDS = DELIVERY_BUDGET_SECONDS + 60


async def deliver_from_queue(
    settings: Settings, store: StatusStore, delivery: QueueDelivery
) -> str:
    """One delivery message: POST its receiver's waiting events, oldest first; return what
    came of it (``delivered``, ``duplicate``, ``invalid``)."""
    try:
        order = DeliveryOrder.model_validate_json(delivery.body)
    except ValidationError as error:
        logger.error("A delivery message that is not one was dropped: %s", error.errors()[:1])
        return "invalid"
    key = f"delivery|{order.target}"
    claim = await store.rounds.claim(
        key, delivery.message_id, delivery.dequeue_count, utc_now(), DELIVERY_CLAIM_SECONDS
    )
    if claim is None:
        return "duplicate"
    try:
        await deliver_pending(store, settings, only=order.target)
    finally:
        with suppress(Exception):  # it ends by itself
            await store.rounds.release(key, claim)
    return "delivered"
