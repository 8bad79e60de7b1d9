"""The app's own routes, beside those each source adds: the status of every monitored item,
an item's history, webhook subscriptions, health, and the OpenAPI document."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import azure.functions as func

from shared.core.api import ApiCall, PageRequest, Reply, name_filter, next_link
from shared.core.errors import SettingsError
from shared.core.health import Health
from shared.http.errors import retry_later_headers
from shared.http.serving import Resolve, failure_response, json_response
from shared.polling.report import health_report, is_healthy, unconfigured_report
from shared.sources import SOURCE_NAMES, SOURCES, source_named
from shared.sources.base import ItemSummary, Operation, Services
from shared.storage.keys import validate_key
from shared.tenants.routes import tenant_operations
from shared.webhooks import subscriptions


async def list_statuses(call: ApiCall, services: Services) -> Reply:
    """``GET /api/statuses``: one flat row per monitored item of every source, for "is any
    sync broken, since when, and why?". ``?health=`` and ``?source=`` filter (comma-separated);
    ``$top`` and a next link page it."""
    healths = name_filter(call.query.get("health"), "health", [str(h) for h in Health])
    names = name_filter(call.query.get("source"), "source", list(SOURCE_NAMES))
    page = PageRequest.of(call)
    store = services.store
    entities, continuation = await store.statuses.page(
        sources=names or list(services.settings.enabled_sources),
        filters={"health": healths} if healths else None,
        top=page.top,
        continuation=page.continuation,
    )
    listed = {run.source: run.listed_date_time for run in await store.poll_runs.read_all()}
    rows = [source_named(entity["PartitionKey"]).summarize(entity) for entity in entities]
    body: dict[str, Any] = {"value": [_row(row, listed.get(row.source)) for row in rows]}
    if continuation:
        filters = {
            name: ",".join(values)
            for name, values in (("health", healths), ("source", names))
            if values
        }
        body["@odata.nextLink"] = next_link(call, page, continuation, filters)
    return Reply(body)


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
        Operation("list_subscriptions", "subscriptions", "GET", list_subscriptions),
        Operation("get_subscription", "subscriptions/{id}", "GET", get_subscription),
        Operation("delete_subscription", "subscriptions/{id}", "DELETE", delete_subscription),
    )
    of_sources = tuple(operation for source in SOURCES for operation in source.operations())
    return own + tenant_operations() + of_sources


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


def _row(row: ItemSummary, listed: str | None) -> dict[str, Any]:
    # An item the poll could read was read at its source's last complete listing at least;
    # one it could not read keeps the time it was last read.
    checked = row.last_checked_date_time
    if not row.poll_error and listed and (checked is None or listed > checked):
        checked = listed
    since, since_from = row.since
    return {
        "source": row.source,
        "id": row.id,
        "displayName": row.display_name,
        "status": row.status,
        "health": row.health,
        "healthSince": row.health_since,
        "sinceDateTime": since,
        "sinceFrom": since_from,
        "lastCheckedDateTime": checked,
        "reason": row.reason,
        "pollError": row.poll_error,
        "path": source_named(row.source).item_path(row.id),
    }
