"""The app's own routes, beside those each source adds: the status of every monitored item,
an item's history, webhook subscriptions, health, and the OpenAPI document."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import azure.functions as func

from shared.core.api import ApiCall, PageRequest, Reply, next_link
from shared.core.errors import SettingsError
from shared.core.subscriptions import Subscription
from shared.http.errors import retry_later_headers
from shared.http.serving import Resolve, failure_response, json_response
from shared.http.statuses import list_statuses, statuses_of_tenant
from shared.http.tenant_scope import tenant_scoped
from shared.incidents.maintenance import maintenance_operations
from shared.incidents.routes import incident_operations
from shared.polling.report import health_report, is_healthy, unconfigured_report
from shared.sources import SOURCES, source_named
from shared.sources.base import Operation, Services
from shared.storage.keys import validate_key
from shared.tenants.routes import tenant_operations
from shared.webhooks import subscriptions


async def get_status_history(call: ApiCall, services: Services) -> Reply:
    """``GET /api/statuses/{source}/{id}/history``: the item's changes, newest first."""
    source = source_named(call.route.get("source", ""))
    item_id = validate_key(call.route.get("id", ""))
    page = PageRequest.of(call)
    changes, continuation = await services.store.history.page(
        source.name, item_id, top=page.top, continuation=page.continuation
    )
    body: dict[str, Any] = {"value": [change.model_dump() for change in changes]}
    if continuation:
        body["@odata.nextLink"] = next_link(call, page, continuation, {})
    return Reply(body)


async def create_subscription(call: ApiCall, services: Services) -> Reply:
    """``POST /api/subscriptions``: POST every matching change to ``notificationUrl`` from
    now on; 201 with a Location to DELETE (what a Power Automate trigger does)."""
    subscription = await subscriptions.subscribe(services, call.json_body())
    return _subscribed(call, subscription)


async def create_incident_subscription(call: ApiCall, services: Services) -> Reply:
    """``POST /api/incidentSubscriptions``: POST each matching incident's notice from now
    on (the connector's trigger for incidents); as a subscription, DELETEd at its Location."""
    subscription = await subscriptions.subscribe(services, call.json_body(), incidents=True)
    return _subscribed(call, subscription)


def _subscribed(call: ApiCall, subscription: Subscription) -> Reply:
    scheme, netloc, *_rest = urlsplit(call.url)
    location = urlunsplit((scheme, netloc, f"/api/subscriptions/{subscription.id}", "", ""))
    return Reply(subscription.model_dump(), location=location)


async def list_subscriptions(call: ApiCall, services: Services) -> Reply:
    listed = await subscriptions.oldest_first(services.store, services.tenant_id)
    return Reply({"value": [subscription.model_dump() for subscription in listed]})


async def get_subscription(call: ApiCall, services: Services) -> Reply:
    subscription = await subscriptions.subscription_by_id(services, call.route.get("id", ""))
    return Reply(subscription.model_dump())


async def delete_subscription(call: ApiCall, services: Services) -> Reply:
    """``DELETE /api/subscriptions/{id}``: no more events; the waiting ones are dropped."""
    await subscriptions.unsubscribe(services, call.route.get("id", ""))
    return Reply()


def api_operations() -> tuple[Operation, ...]:
    """Every route of the API but health and the OpenAPI document: the app's own, the
    tenant registry's, then each source's."""
    own = (
        Operation("list_statuses", "statuses", "GET", list_statuses),
        Operation(
            "get_status_history", "statuses/{source}/{id}/history", "GET", get_status_history
        ),
        Operation("create_subscription", "subscriptions", "POST", create_subscription),
        Operation(
            "create_incident_subscription",
            "incidentSubscriptions",
            "POST",
            create_incident_subscription,
        ),
        Operation("list_subscriptions", "subscriptions", "GET", list_subscriptions),
        Operation("get_subscription", "subscriptions/{id}", "GET", get_subscription),
        Operation("delete_subscription", "subscriptions/{id}", "DELETE", delete_subscription),
        *incident_operations(),
        *maintenance_operations(),
    )
    of_sources = tuple(operation for source in SOURCES for operation in source.operations())
    # Each again under /api/tenants/{tenantId}/ (a tenant's statuses are its own alone).
    scoped = tenant_scoped(own + of_sources, {"list_statuses": statuses_of_tenant})
    return own + tenant_operations() + of_sources + scoped


async def health_response(resolve: Resolve) -> func.HttpResponse:
    """``GET /api/health``: the last poll of each source and a verdict (200 only if healthy).

    Anonymous, so it shows counts and error codes, never the cached tenant data.
    """
    try:
        settings, store = resolve()
    except SettingsError as error:
        report = unconfigured_report(error)
    except Exception as error:
        return failure_response(error)
    else:
        try:
            report = await health_report(settings, store)
        except Exception as error:
            return failure_response(error)
    if is_healthy(report):
        return json_response(report)
    return json_response(report, status=503, headers=retry_later_headers())


def openapi_response() -> func.HttpResponse:
    """The OpenAPI 2.0 description: the same bytes as infra/connector/apiDefinition.swagger.json."""
    from shared.http.openapi.document import document_json  # built on first use

    return func.HttpResponse(document_json(), mimetype="application/json", charset="utf-8")
