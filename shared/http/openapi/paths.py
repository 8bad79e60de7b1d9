"""The paths of the app's own routes in the OpenAPI document: every source's items, an
item's history, webhook subscriptions (and the trigger they make), health, and the
document itself."""

from __future__ import annotations

from typing import Any

from shared.core.errors import (
    InvalidInputError,
    NotFoundError,
    RequestTooLargeError,
    StorageUnavailableError,
)
from shared.core.openapi import (
    ITEM_KEY,
    RETRY_AFTER,
    SKIPTOKEN,
    TOP,
    operation,
    param,
    path_param,
    ref,
    trigger_operation,
)


def app_paths(source_names: list[str]) -> dict[str, Any]:
    """The paths of the app's own routes (each source adds its own)."""
    return {
        **_status_paths(source_names),
        **_health_paths(),
        **_subscription_paths(),
        **_board_paths(source_names),
    }


def _board_paths(source_names: list[str]) -> dict[str, Any]:
    """The board's pages: HTML for people (a browser with ?code=), hidden from flow makers."""
    html = {"produces": ["text/html"]}
    answers = {
        400: {"description": "A filter or id that cannot be used (an HTML page says which)."},
        404: {"description": "No such item (an HTML page)."},
        503: {"description": "Storage unavailable or the app not configured (an HTML page).",
              "headers": RETRY_AFTER},
    }  # fmt: skip
    key = param("code", "query", "Function Key", "The function key, as Azure takes it in a URL.",
                visibility="internal")  # fmt: skip
    tenant = param(
        "tenantId", "query", "Tenant",
        "The tenant's id, or home. On the board, none: the overview of the tenants (one "
        "tenant: its board); on an item, none: the home tenant's.",
    )  # fmt: skip
    board = operation(
        "GetBoard", "Show the status board",
        "The status board, an HTML page for people: every monitored item, worst first, with "
        "its health over the last 30 days.",
        {200: {"description": "The board (HTML)."}, **answers}, (),
        parameters=(
            param("health", "query", "Health", "Only these healths, comma-separated."),
            param("source", "query", "Sources",
                  f"Only these sources, comma-separated: {', '.join(source_names)}."),
            tenant,
            key,
        ),
        visibility="internal", **html,
    )  # fmt: skip
    item = operation(
        "GetBoardItem", "Show an item of the status board",
        "An item's page: its history and its document as Graph sent it (HTML).",
        {200: {"description": "The item (HTML)."}, **answers}, (),
        parameters=(
            param("source", "query", "Source", "The item's source.", required=True),
            param("id", "query", "ID", "The item's id.", required=True),
            tenant,
            key,
        ),
        visibility="internal", **html,
    )  # fmt: skip
    return {
        "/board": {"get": board},
        "/board/item": {"get": item},
        "/board/item/action": {"post": _board_action(answers, key)},
    }


def _board_action(answers: dict[int, Any], key: dict[str, Any]) -> dict[str, Any]:
    """The item page's form (a job's restart or start): for people, hidden from flows."""
    html = {"produces": ["text/html"]}
    fields = (
        param(name, "formData", name, text, required=name not in ("resetScope", "tenantId"))
        for name, text in (
            ("source", "The provisioning jobs source."), ("id", "The job's id."),
            ("action", "restart or start."), ("token", "The token the page gave."),
            ("resetScope", "A reset scope ticked (one field each)."),
            ("tenantId", "The tenant of the job's page (none: the home tenant)."),
        )
    )  # fmt: skip
    act = operation(
        "PostBoardItemAction", "Act on a job from its board page",
        "The form of a provisioning job's board page (restart or start), with the token the "
        "page gave; guarded as the job actions are. Answers 303 to the item's page, or an "
        "HTML page saying why not. For people in a browser: flows use the job actions.",
        {303: {"description": "Done: back to the item's page."},
         **answers,
         403: {"description": "Actions off, a token that does not hold, or another site."},
         429: {"description": "The job was acted on within the cooldown.",
               "headers": RETRY_AFTER}},
        (),
        parameters=(*fields, key),
        visibility="internal", consumes=["application/x-www-form-urlencoded"], **html,
    )  # fmt: skip
    return act


def _status_paths(source_names: list[str]) -> dict[str, Any]:
    return {
        "/statuses": {
            "get": operation(
                "ListStatuses",
                "List the health of every monitored item",
                "One row per monitored item of every enabled source: is it broken, since "
                "when, and why. A page at a time.",
                {200: {"description": "A page of items.", "schema": ref("StatusList")}},
                (InvalidInputError, StorageUnavailableError),
                parameters=(
                    param(
                        "health",
                        "query",
                        "Health",
                        "Only items with one of these healths, comma-separated: healthy, "
                        "warning, error, unknown.",
                        visibility="important",
                    ),
                    param(
                        "source",
                        "query",
                        "Sources",
                        f"Only items of these sources, comma-separated: {', '.join(source_names)}.",
                    ),
                    TOP,
                    SKIPTOKEN,
                ),
            )
        },
        "/statuses/{source}/{id}/history": {
            "get": operation(
                "GetStatusHistory",
                "Get the status history of an item",
                "The changes of an item's status or health, newest first; a page at a time.",
                {200: {"description": "A page of changes.", "schema": ref("StatusHistory")}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(
                    path_param(
                        "source",
                        "Source",
                        "The item's source.",
                        enum=source_names,
                    ),
                    path_param(
                        "id",
                        "Item ID",
                        "The item's ID, as in the rows of ListStatuses.",
                        **ITEM_KEY,
                    ),
                    TOP,
                    SKIPTOKEN,
                ),
                visibility="advanced",
            )
        },
    }


def _health_paths() -> dict[str, Any]:
    return {
        "/health": {
            "get": operation(
                "GetHealth",
                "Get the health of the polls",
                "The last poll of each enabled source and an overall verdict: 200 when "
                "healthy, 503 otherwise. Counts and error codes only, no tenant data.",
                {
                    200: {
                        "description": "Every source is healthy.",
                        "schema": ref("HealthReport"),
                    },
                    503: {
                        "description": "A source is not healthy or storage is unavailable "
                        "(an app that is not configured answers an Error instead).",
                        "schema": ref("HealthReport"),
                        "headers": RETRY_AFTER,
                    },
                },
                (),
                visibility="advanced",
                anonymous=True,
            )
        },
        "/openapi.json": {
            "get": operation(
                "GetOpenApiDocument",
                "Get this OpenAPI description",
                "The OpenAPI 2.0 description of this API (the connector's definition).",
                {200: {"description": "This document.", "schema": {"type": "object"}}},
                (),
                visibility="internal",
                anonymous=True,
            )
        },
    }


def _subscription_paths() -> dict[str, Any]:
    subscription_id = path_param("id", "Subscription ID", "The ID of the subscription.", **ITEM_KEY)
    return {
        "/subscriptions": {
            "x-ms-notification-content": {
                "description": "The change of an item's status or health.",
                "schema": ref("ChangeEvent"),
            },
            "post": _trigger(),
            "get": operation(
                "ListSubscriptions",
                "List webhook subscriptions",
                "Lists every webhook subscription, active or disabled.",
                {200: {"description": "The subscriptions.", "schema": ref("SubscriptionList")}},
                (StorageUnavailableError,),
                visibility="advanced",
            ),
        },
        "/subscriptions/{id}": {
            "get": operation(
                "GetSubscription",
                "Get a webhook subscription",
                "Gets a webhook subscription.",
                {200: {"description": "The subscription.", "schema": ref("Subscription")}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(subscription_id,),
                visibility="advanced",
            ),
            "delete": operation(
                "DeleteSubscription",
                "Delete a webhook subscription",
                "Deletes a webhook subscription; the events waiting for it are dropped.",
                {204: {"description": "Deleted."}},
                (InvalidInputError, NotFoundError, StorageUnavailableError),
                parameters=(subscription_id,),
                visibility="advanced",
            ),
        },
    }


def _trigger() -> dict[str, Any]:
    """The connector's trigger for changes: Power Automate subscribes with its callback URL."""
    return trigger_operation(
        "CreateSubscription",
        "When a sync status changes",
        "Triggers when a poll (or an update) changes the status or health of a monitored item "
        "that matches the filter.",
        "SubscriptionRequest",
        "To see it work now, update a profile's status, then wait for the next poll.",
        (InvalidInputError, RequestTooLargeError, StorageUnavailableError),
    )
