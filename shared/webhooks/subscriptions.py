"""Webhook subscriptions as the API makes, reads and removes them: a subscriber names where
each matching change is POSTed (the URL guard checks it now and before every POST) and which
changes it wants."""

from __future__ import annotations

import uuid
from typing import Any

from shared.core.errors import InvalidInputError, NotFoundError
from shared.core.subscriptions import Subscription, parse_subscription_request
from shared.core.time import utc_now
from shared.core.urlguard import WebhookUrlError, check_url_target
from shared.sources import SOURCE_NAMES
from shared.sources.base import Services
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore


async def subscribe(services: Services, body: Any, *, incidents: bool = False) -> Subscription:
    """A new active subscription from a subscribe body (``incidents``: an incident
    subscription's, for incidents' notices alone); InvalidInputError naming what is wrong
    with it."""
    request = parse_subscription_request(body, incidents=incidents)
    _check_sources(request.filter.sources if request.filter else None)
    allow_insecure = services.settings.allow_insecure_webhooks
    try:
        await check_url_target(request.notificationUrl, allow_insecure=allow_insecure)
    except WebhookUrlError as error:
        raise InvalidInputError(
            f"The notificationUrl cannot be used: {error}.", target="notificationUrl"
        ) from None
    subscription = Subscription(
        id=str(uuid.uuid4()),
        notificationUrl=request.notificationUrl,
        filter=request.filter,
        format=request.format,
        groupIncidents=request.groupIncidents,
        status="active",
        createdDateTime=utc_now(),
        tenantId=services.tenant_id,
    )
    await services.store.subscriptions.save(subscription)
    return subscription


async def oldest_first(store: StatusStore, tenant_id: str | None = None) -> list[Subscription]:
    """Every subscription (``tenant_id``: only that tenant's), oldest first."""
    subscriptions = [
        subscription
        for subscription in await store.subscriptions.read_all()
        if tenant_id is None or subscription.tenantId == tenant_id
    ]
    return sorted(
        subscriptions, key=lambda subscription: (subscription.createdDateTime, subscription.id)
    )


async def subscription_by_id(services: Services, subscription_id: str) -> Subscription:
    validate_key(subscription_id)
    subscription = await services.store.subscriptions.get(subscription_id)
    if subscription is None or not _sees(services, subscription):
        raise _unknown(subscription_id)
    return subscription


async def unsubscribe(services: Services, subscription_id: str) -> None:
    """No more events for the subscription; the waiting ones are dropped."""
    await subscription_by_id(services, subscription_id)  # another tenant's: not found
    store = services.store
    if not await store.subscriptions.delete(subscription_id):
        raise _unknown(subscription_id)
    await store.outbox.clear(subscription_id)


def _check_sources(sources: list[str] | None) -> None:
    """The filter's sources are sources the app knows (no more names than there are sources)."""
    for index, name in enumerate(sources or []):
        if name not in SOURCE_NAMES:
            raise InvalidInputError(
                f"'{name}' is not a source; use one or more of: {', '.join(SOURCE_NAMES)}.",
                target=f"filter.sources.{index}",
            )
    if sources and len(sources) > len(SOURCE_NAMES):
        raise InvalidInputError(
            f"The filter names more than {len(SOURCE_NAMES)} sources.", target="filter.sources"
        )


def _sees(services: Services, subscription: Subscription) -> bool:
    """A tenant's route sees that tenant's subscriptions only."""
    return services.tenant_id is None or subscription.tenantId == services.tenant_id


def _unknown(subscription_id: str) -> NotFoundError:
    return NotFoundError(f"No subscription with id '{subscription_id}'.")
