"""Webhook delivery: the events waiting in the outbox are POSTed to their receivers, oldest
first per receiver, until each acknowledges with a 2xx.

Nothing is lost when a receiver is down and nothing acknowledged is sent again. Delivery
runs after a poll has recorded its results, within a time budget, and never fails the poll:
what is left waits for the next one. Every POST goes to an address the URL guard checked just
before (``shared.core.urlguard``), with TLS still checking the URL's host name.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from shared.core.changes import MAX_EVENT_AGE, ChangeEvent
from shared.core.errors import StorageUnavailableError
from shared.core.incidents import IncidentEvent, IncidentGroupEvent, group_notices
from shared.core.retry_after import MAX_RETRY_AFTER_SECONDS, parse_retry_after
from shared.core.subscriptions import Subscription, SubscriptionFormat, static_target
from shared.core.time import graph_timestamp
from shared.core.urlguard import WebhookUrlError, check_url_target
from shared.settings import Settings
from shared.storage.store import StatusStore
from shared.webhooks.teams_card import card_body

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

# One POST may take this long; a delivery round (after a poll) at most DELIVERY_BUDGET.
WEBHOOK_TIMEOUT_SECONDS = 10.0
DELIVERY_BUDGET_SECONDS = 60.0
# Tries of one event within a round (429, 5xx and timeouts are retried after a back-off or
# the Retry-After the receiver gave, if it ends within the round); rounds before an event is
# given up.
TRIES_PER_ROUND = 3
MAX_ROUNDS = 20
# Events read from one target's queue at a time (a round reads on while time is left);
# targets served at once.
EVENTS_PER_READ = 100
TARGETS_AT_ONCE = 8
USER_AGENT = "SyncStatus-Webhooks/1.0"


Outcome = Literal["delivered", "retry", "gone", "refused"]


@dataclass
class DeliveryReport:
    """What a delivery round did, for the log."""

    delivered: int = 0
    waiting: int = 0
    dropped: int = 0
    disabled: list[str] = field(default_factory=list)


async def deliver_pending(
    store: StatusStore,
    settings: Settings,
    *,
    budget_seconds: float = DELIVERY_BUDGET_SECONDS,
    client: httpx.AsyncClient | None = None,
    only: str | None = None,
) -> DeliveryReport:
    """POST the waiting events of every target (``only``: of that one), oldest first, within
    ``budget_seconds``.

    Never raises: a storage outage or a subscriber's failure leaves the events waiting.
    """
    import httpx  # here: the HTTP routes' cold start does not need it

    report = DeliveryReport()
    deadline = time.monotonic() + budget_seconds
    own_client = client is None
    http = client or httpx.AsyncClient(
        timeout=WEBHOOK_TIMEOUT_SECONDS,
        follow_redirects=False,  # a redirect could lead to an address the guard refuses
        headers={"User-Agent": USER_AGENT},
    )
    try:
        targets = await store.outbox.targets()
        if only is not None:
            targets = [target for target in targets if target == only]
        subscriptions = {s.id: s for s in await store.subscriptions.read_all()}
        static = {static_target(url): url for url in settings.notify_webhook_urls}
        limit = asyncio.Semaphore(TARGETS_AT_ONCE)

        async def deliver_to(target: str) -> None:
            async with limit:
                try:
                    await _deliver_target(
                        store, settings, http, target, subscriptions.get(target),
                        static.get(target), deadline, report,
                    )  # fmt: skip
                except Exception:
                    # One receiver's trouble (or a bug) must not stop the others, nor the poll.
                    logger.exception("Delivery to %s stopped; its events wait", target)

        await asyncio.gather(*(deliver_to(target) for target in targets))
    except StorageUnavailableError as error:
        logger.warning("Events not delivered now, Table Storage is unavailable: %s", error)
    finally:
        if own_client:
            await http.aclose()
    if report.delivered or report.waiting or report.dropped:
        logger.info(
            "Webhooks: %d delivered, %d waiting, %d dropped, disabled %s",
            report.delivered, report.waiting, report.dropped, report.disabled or "none",
        )  # fmt: skip
    return report


async def _deliver_target(
    store: StatusStore,
    settings: Settings,
    http: httpx.AsyncClient,
    target: str,
    subscription: Subscription | None,
    static_url: str | None,
    deadline: float,
    report: DeliveryReport,
) -> None:
    """Deliver one target's events in order, until none waits, one must wait, or the round's
    budget is spent."""
    if subscription is not None and subscription.status == "active":
        url = subscription.notificationUrl
    elif static_url is not None:
        url = static_url
    else:  # unsubscribed, disabled, or no longer in NOTIFY_WEBHOOK_URLS
        await store.outbox.clear(target)
        return
    sender = _Sender(store, settings, http, target, subscription, url, deadline, report)
    grouping = subscription is not None and subscription.groupIncidents
    while True:
        waiting = await store.outbox.read(target, EVENTS_PER_READ)
        for message, entities in messages_of(waiting, grouping=grouping):
            if not await sender.deliver(message, entities):
                return
        if len(waiting) < EVENTS_PER_READ:
            return


Message = ChangeEvent | IncidentEvent | IncidentGroupEvent


def messages_of(
    waiting: list[tuple[ChangeEvent | IncidentEvent, dict[str, Any]]], *, grouping: bool
) -> list[tuple[Message, list[dict[str, Any]]]]:
    """What is POSTed for a target's waiting events, in order, each with the outbox rows it
    settles: an event each, except (``grouping``) that the notices one review made, waiting
    one after another, go as one group."""
    messages: list[tuple[Message, list[dict[str, Any]]]] = []
    run: list[tuple[IncidentEvent, dict[str, Any]]] = []

    def close_run() -> None:
        if len(run) > 1:
            messages.append((group_notices([event for event, _ in run]), [e for _, e in run]))
        elif run:
            messages.append((run[0][0], [run[0][1]]))
        run.clear()

    for event, entity in waiting:
        groupable = grouping and isinstance(event, IncidentEvent) and event.reviewId is not None
        if run and (not groupable or event.reviewId != run[0][0].reviewId):
            close_run()
        if groupable:
            run.append((event, entity))  # type: ignore[arg-type]
        else:
            messages.append((event, [entity]))
    close_run()
    return messages


@dataclass
class _Sender:
    """One target's delivery in one round."""

    store: StatusStore
    settings: Settings
    http: httpx.AsyncClient
    target: str
    subscription: Subscription | None
    url: str
    deadline: float
    report: DeliveryReport

    async def deliver(self, event: Message, entities: list[dict[str, Any]]) -> bool:
        """POST one message and settle its events; False when the ones after it must wait."""
        report = self.report
        count = len(entities)
        if event.changedDateTime < _timestamp_before(MAX_EVENT_AGE):
            logger.error("Event %s for %s dropped: older than %s", event.eventId, self.target,
                         MAX_EVENT_AGE)  # fmt: skip
            await self._settle(entities, delivered=True)
            report.dropped += count
            return True
        if time.monotonic() >= self.deadline:
            report.waiting += count
            return False  # the round's budget is spent: the rest waits for the next poll
        outcome = await post_event(
            self.http, self.url, event, self.settings, self.deadline, body_format=self.format
        )
        if outcome == "delivered":
            await self._settle(entities, delivered=True)
            report.delivered += count
            return True
        if outcome == "gone" and self.subscription is not None:
            await self._disable(self.subscription)
            return False
        attempts = max(int(entity.get("attempts", 0)) for entity in entities)
        if outcome == "retry" and attempts + 1 < MAX_ROUNDS:
            await self._settle(entities, delivered=False)
            report.waiting += count
            return False  # keep the order: later events wait behind this one
        # Refused (another 4xx, or an address the guard refuses), gone for a static URL,
        # or retried for MAX_ROUNDS rounds: the receiver will not take it.
        logger.error("Event %s for %s dropped after %s", event.eventId, self.target, outcome)
        await self._settle(entities, delivered=True)
        report.dropped += count
        return True

    async def _settle(self, entities: list[dict[str, Any]], *, delivered: bool) -> None:
        for entity in entities:
            await self.store.outbox.settle(entity, delivered=delivered)

    @property
    def format(self) -> SubscriptionFormat:
        """What this target is POSTed: its subscription's format (a NOTIFY_WEBHOOK_URLS
        entry has none: the JSON)."""
        return self.subscription.format if self.subscription is not None else "json"

    async def _disable(self, subscription: Subscription) -> None:
        subscription.status = "disabled"
        subscription.disabledReason = (
            "The notification URL kept answering 404 or 410, so the subscription was "
            "disabled; subscribe again to receive events."
        )
        await self.store.subscriptions.save(subscription)
        await self.store.outbox.clear(self.target)
        self.report.disabled.append(subscription.id)
        logger.warning("Subscription %s disabled: its URL is gone", subscription.id)


async def post_event(
    http: httpx.AsyncClient,
    url: str,
    event: Message,
    settings: Settings,
    deadline: float,
    *,
    body_format: SubscriptionFormat = "json",
) -> Outcome:
    """POST one event (as ``body_format`` has it: ``event_body``), retrying 429, 5xx and
    timeouts within this round; 404 and 410 too, to tell a receiver that is gone from one
    that blinked."""
    import httpx

    body = event_body(event, settings, body_format)
    outcome: Outcome = "retry"
    for attempt in range(TRIES_PER_ROUND):
        retry_after: float | None = None
        try:
            address = await check_url_target(url, allow_insecure=settings.allow_insecure_webhooks)
        except WebhookUrlError as error:
            if not error.transient:
                logger.warning("Webhook for event %s refused: %s", event.eventId, error)
                return "refused"
            logger.info("Webhook for event %s waits: %s", event.eventId, error)
            outcome = "retry"  # DNS did not answer: ask again after a pause
        else:
            remaining = max(1.0, deadline - time.monotonic())
            try:
                reply = await http.send(_pinned_request(http, url, body, address, remaining))
            except httpx.HTTPError as error:
                logger.info("Webhook POST failed (%s); try %d", type(error).__name__, attempt + 1)
                outcome = "retry"
            else:
                if 200 <= reply.status_code < 300:
                    return "delivered"
                if reply.status_code in (404, 410):
                    outcome = "gone"
                elif reply.status_code in (408, 429) or reply.status_code >= 500:
                    outcome = "retry"
                    retry_after = parse_retry_after(reply.headers.get("Retry-After"))
                else:
                    logger.warning(
                        "Webhook answered %d to event %s", reply.status_code, event.eventId
                    )
                    return "refused"
        pause = retry_after if retry_after is not None else 2.0**attempt
        pause += random.uniform(0, 0.25)  # noqa: S311 - jitter, not security
        # A wait past the round's end, or as long as "not now", is left to a later round.
        too_long = pause >= MAX_RETRY_AFTER_SECONDS or time.monotonic() + pause > deadline
        if attempt + 1 == TRIES_PER_ROUND or too_long:
            break
        await asyncio.sleep(pause)
    return outcome


def event_body(event: Message, settings: Settings, body_format: SubscriptionFormat) -> bytes:
    """What is POSTed for an event. json: the event itself. teamsAdaptiveCard: a Teams
    Workflows webhook message with an Adaptive Card made from it (``teams_card``): for an
    incident's notice its card; for a change or an action a smaller card, not the JSON,
    which a flow made to post cards could not post. Its buttons link to the board from the
    app's public base URL (none without one)."""
    if body_format == "teamsAdaptiveCard":
        return card_body(event, settings.public_base_url)
    return event.model_dump_json().encode()


def _pinned_request(
    http: httpx.AsyncClient, url: str, body: bytes, address: str | None, timeout: float
) -> httpx.Request:
    """A POST to ``url``, connecting to ``address`` (the one the guard checked) while TLS and
    the Host header still name the URL's host, so the certificate is checked against it."""
    import httpx

    headers = {"Content-Type": "application/json"}
    timeouts = httpx.Timeout(min(WEBHOOK_TIMEOUT_SECONDS, timeout))
    if address is None:
        return http.build_request("POST", url, content=body, headers=headers, timeout=timeouts)
    target = httpx.URL(url)
    headers["Host"] = target.netloc.decode("ascii")
    return http.build_request(
        "POST",
        target.copy_with(host=address),
        content=body,
        headers=headers,
        timeout=timeouts,
        extensions={"sni_hostname": target.host},
    )


def _timestamp_before(age: timedelta) -> str:
    return graph_timestamp(datetime.now(UTC) - age)
