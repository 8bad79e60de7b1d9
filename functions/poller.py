"""The timer that keeps the cache up to date: ``poll_sync_statuses`` on %POLL_SCHEDULE%.

It runs as a singleton (the host's storage lease), so two polls never overlap; it can also
be started on demand with ``POST /admin/functions/poll_sync_statuses``.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared import composition

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.timer_trigger(schedule="%POLL_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def poll_sync_statuses(timer: func.TimerRequest) -> None:
    if timer.past_due:
        logger.info("The poll is running later than scheduled.")
    # Imported here: the Graph SDK is only needed by the poll, not by the HTTP routes' cold start.
    from shared.polling.round import poll_every_tenant
    from shared.webhooks.delivery import deliver_pending

    settings, store = composition.services()
    try:
        # Every enabled tenant, within the deadline: the next timer run is never starved.
        await poll_every_tenant(
            settings, store, composition.tenant_graph_client,
            deadline_seconds=settings.poll_deadline_seconds,
        )  # fmt: skip
    finally:
        # After the poll is recorded, and even when a source could not record its run:
        # events already queued go out. Delivery never raises.
        await deliver_pending(store, settings)
