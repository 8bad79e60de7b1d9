"""The round: the timer plans it, queue triggers do it.

``poll_sync_statuses`` runs on %POLL_SCHEDULE% as a singleton (the host's storage lease), so
two plans never overlap; it can also be started on demand with
``POST /admin/functions/poll_sync_statuses``. It only puts one message per enabled tenant on
the poll queue (and one per receiver with events waiting on the delivery queue).
``poll_tenant_from_queue`` polls one tenant per message, on as many instances as the queue
needs (Flex Consumption scales each queue function on its own), and
``deliver_events_from_queue`` POSTs one receiver's waiting events, so a slow receiver never
holds a poll. host.json's ``extensions.queues`` sets their batch size, visibility timeout and
dequeue count; messages are base64 JSON, as the host expects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import azure.functions as func

from shared import composition

if TYPE_CHECKING:
    from shared.storage.queues import QueueDelivery

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.timer_trigger(schedule="%POLL_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def poll_sync_statuses(timer: func.TimerRequest) -> None:
    if timer.past_due:
        logger.info("The round is being planned later than scheduled.")
    from shared.polling.fanout import plan_round  # the round's modules: not the routes' start

    settings, store = composition.services()
    await plan_round(settings, store, composition.queues())


@bp.queue_trigger(
    arg_name="message", queue_name="%POLL_QUEUE_NAME%", connection="AzureWebJobsStorage"
)
async def poll_tenant_from_queue(message: func.QueueMessage) -> None:
    from shared.polling.fanout import poll_from_queue

    settings, store = composition.services()
    await poll_from_queue(
        settings, store, composition.queues(), composition.tenant_graph_client,
        _delivery(message),
    )  # fmt: skip


@bp.queue_trigger(
    arg_name="message", queue_name="%DELIVERY_QUEUE_NAME%", connection="AzureWebJobsStorage"
)
async def deliver_events_from_queue(message: func.QueueMessage) -> None:
    from shared.webhooks.queued import deliver_from_queue

    settings, store = composition.services()
    await deliver_from_queue(settings, store, _delivery(message))


def _delivery(message: func.QueueMessage) -> QueueDelivery:
    from shared.storage.queues import QueueDelivery

    return QueueDelivery(message.id or "", message.dequeue_count or 1, message.get_body())
