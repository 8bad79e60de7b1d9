"""The OpenAPI 2.0 (Swagger) document of the API: what ``GET /api/openapi.json`` serves and
what ``infra/connector/apiDefinition.swagger.json`` holds (the Power Automate custom
connector's definition; ``python -m tools.export_connector`` writes it).

It is put together from the app's own routes (statuses, history, subscriptions, health), the
tenant registry's (``shared.tenants.openapi``) and each source's part (``Source.openapi``).
Request bodies come from the models that validate them; responses from models of the shapes
the API answers.

``host`` is a placeholder that cannot resolve (``.invalid``): the document is the same
wherever it is served, and an admin sets the app's real host when importing the connector.
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.core.changes import ChangeEvent
from shared.core.errors import InvalidInputError, NotFoundError
from shared.core.openapi import ERRORS_KEY, RETRY_AFTER, OpenApiPart, path_param, ref
from shared.core.subscriptions import Subscription, SubscriptionRequest
from shared.core.time import Timestamp
from shared.http.errors import status_of
from shared.http.openapi.board_incidents import BOARD_INCIDENTS_OPENAPI
from shared.http.openapi.converter import Presentation, SchemaConverter, referenced
from shared.http.openapi.paths import app_paths
from shared.http.openapi.schemas import (
    Error,
    HealthReport,
    StatusHistory,
    StatusList,
    SubscriptionList,
)
from shared.http.tenant_scope import TENANT_PREFIX
from shared.incidents.openapi import INCIDENTS_OPENAPI
from shared.sources import SOURCE_NAMES, SOURCES
from shared.tenants.keys_openapi import TENANT_KEYS_OPENAPI
from shared.tenants.openapi import TENANTS_OPENAPI

PLACEHOLDER_HOST = "your-function-app.invalid"
BASE_PATH = "/api"
API_KEY_HEADER = "x-functions-key"

_REF = "#/definitions/{model}"

# The app's own models, and how their properties are presented.
_MODELS: tuple[type[BaseModel], ...] = (
    SubscriptionRequest,
    Subscription,
    SubscriptionList,
    ChangeEvent,
    StatusList,
    StatusHistory,
    HealthReport,
    Error,
)
_STATUS_CHANGE_TEXTS = {
    "source": "The source the item comes from.",
    "id": "The item's ID.",
    "displayName": "The item's name.",
    "previousHealth": "The health before; null when new.",
    "health": "healthy, warning, error or unknown.",
}
_APP_HINTS = OpenApiPart(
    paths=dict,
    models=_MODELS,
    summaries={
        "id": "ID",
        "@odata.context": "OData Context",
        "@odata.nextLink": "Next Link",
        "@odata.type": "OData Type",
        "notificationUrl": "Notification URL",
        "ids": "Item IDs",
        "eventId": "Event ID",
        "subscriptionId": "Subscription ID",
        "sinceDateTime": "Since",
    },
    important=frozenset(
        {
            "id",
            "displayName",
            "status",
            "health",
            "healthSince",
            "sinceDateTime",
            "reason",
            "source",
            "previousStatus",
            "previousHealth",
            "changedDateTime",
            "kind",
            "code",
            "message",
            "value",
            "filter",
            "sources",
            "error",
        }
    ),
    definition_texts={
        "ChangeEvent": "The event POSTed to a subscriber for each change of an item's status "
        "or health, and for each action taken on it (kind action).",
        "StatusChange": "One change of an item's status or health, or an action taken on it.",
        "Subscription": "A webhook subscription.",
        "SubscriptionFilter": "Which changes a subscription receives; each list left out (or "
        "empty) matches all.",
        "SubscriptionRequest": "Where to POST each change, and which changes.",
    },
    property_texts={
        ("SubscriptionFilter", "health"): "Only changes to these healths.",
        ("SubscriptionFilter", "sources"): "Only changes of items of these sources.",
        ("SubscriptionFilter", "ids"): "Only changes of these items.",
        ("SubscriptionFilter", "kinds"): "Only these kinds of event: change (an item's status "
        "or health changed), action (a job action was taken on it); incident (an incident's "
        "notices) only when named. Left out: change and action.",
        ("SubscriptionFilter", "notices"): "Of incidents, only these notices: opened, reminder, "
        "resolved (all when left out).",
        ("SubscriptionRequest", "notificationUrl"): "The URL each change is POSTed to (Power "
        "Automate fills it in).",
        ("SubscriptionRequest", "filter"): "Which changes to send; all when left out.",
        ("Subscription", "id"): "The subscription's ID.",
        ("Subscription", "notificationUrl"): "The URL each change is POSTed to.",
        ("Subscription", "filter"): "Which changes are sent; all when null.",
        ("Subscription", "status"): "active, or disabled when the receiver kept answering 404 "
        "or 410.",
        ("Subscription", "createdDateTime"): "When the subscription was made.",
        ("Subscription", "disabledReason"): "Why the subscription was disabled.",
        **{("StatusChange", name): text for name, text in _STATUS_CHANGE_TEXTS.items()},
        **{("ChangeEvent", name): text for name, text in _STATUS_CHANGE_TEXTS.items()},
    },
)
# Properties Power Automate should neither ask for nor show.
_INTERNAL = {"@odata.context", "@odata.type", "notificationUrl"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "schema": ref("Error")}


# What each error status of an operation means, in Graph's error shape.
_ERROR_ANSWERS = {
    400: _error("The request is not valid; error.target names the parameter or property."),
    401: {"description": "The function key is missing or wrong."},
    403: _error(
        "Not allowed: switched off by a setting (named in the message), or refused "
        "by Graph (Graph's error code and message)."
    ),
    404: _error("Not found (or no route matches the path)."),
    409: _error("Graph says the item's state does not allow it (Graph's error)."),
    412: _error("The status changed since the ETag in If-Match; read it again."),
    413: _error("The request body is over 64 KiB."),
    429: {
        "description": "Asked again too soon; try again after Retry-After.",
        "schema": ref("Error"),
        "headers": RETRY_AFTER,
    },
    503: {
        "description": "Table Storage or Graph is unavailable, or the app is not configured; "
        "try again after Retry-After.",
        "schema": ref("Error"),
        "headers": RETRY_AFTER,
    },
}


def build_document() -> dict[str, Any]:
    """The Swagger 2.0 document of the API (a new dict on every call)."""
    parts = [
        _APP_HINTS,
        TENANTS_OPENAPI,
        TENANT_KEYS_OPENAPI,
        INCIDENTS_OPENAPI,
        BOARD_INCIDENTS_OPENAPI,
        *(source.openapi() for source in SOURCES),
    ]
    titles = ", ".join(source.title for source in SOURCES)
    paths = app_paths(list(SOURCE_NAMES))
    for part in parts:
        paths |= part.paths()
    paths |= _tenant_paths(paths)
    for path_item in paths.values():
        for name, item in path_item.items():
            if name in _METHODS:
                _describe_errors(item)
    return {
        "swagger": "2.0",
        "info": {
            "title": "SyncStatus",
            "description": f"Cached Microsoft Graph synchronization statuses ({titles}): is "
            "any sync broken, since when, and why; and a trigger when a status changes.",
            "version": "1.0",
        },
        "host": PLACEHOLDER_HOST,
        "basePath": BASE_PATH,
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": _definitions(parts),
        "securityDefinitions": {
            "api_key": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        },
        "security": [{"api_key": []}],
    }


_TENANT_ERRORS = (InvalidInputError, NotFoundError)


def _tenant_paths(paths: dict[str, Any]) -> dict[str, Any]:
    """Every route registered again under /tenants/{tenantId} (``http.tenant_scope``),
    described as the route it mirrors, for one tenant: operationId ``Tenant{id}``."""
    from shared.http.routes import api_operations  # the routes, as registered

    tenant_id = path_param(
        "tenantId", "Tenant ID", "The tenant's id (a GUID), or home for the home tenant."
    )
    mirrored: dict[str, Any] = {}
    for registered in api_operations():
        if not registered.name.startswith("tenant_"):
            continue
        route = "/" + registered.route
        own = route.removeprefix("/" + TENANT_PREFIX.rstrip("/"))
        method = registered.method.lower()
        item = mirrored.setdefault(route, {
            key: value for key, value in paths[own].items() if key not in _METHODS
        })  # fmt: skip
        described = copy.deepcopy(paths[own][method])
        described["operationId"] = "Tenant" + described["operationId"]
        described["summary"] = (described["summary"] + " of a tenant")[:80]
        described["parameters"] = [copy.deepcopy(tenant_id), *described["parameters"]]
        # A tenant id that is no GUID (400), or a tenant not there or not the key's (404).
        errors = described[ERRORS_KEY]
        described[ERRORS_KEY] = (*errors, *(e for e in _TENANT_ERRORS if e not in errors))
        described["x-ms-visibility"] = "advanced"
        item[method] = described
    return mirrored


def document_json() -> str:
    """The document as served and as committed: 2-space indents, a trailing newline (built
    anew each time: about 30 ms, for a route a connector import calls once)."""
    return json.dumps(build_document(), indent=2) + "\n"


_METHODS = ("get", "post", "patch", "put", "delete")


def _describe_errors(operation: dict[str, Any]) -> None:
    """An operation's answers: its own, each error it may end with as HTTP describes it, and
    401 unless it is anonymous (no key to check; an admin route says which key it takes)."""
    statuses = dict(operation["responses"])
    for error in operation.pop(ERRORS_KEY):
        statuses.setdefault(status_of(error), _ERROR_ANSWERS[status_of(error)])
    if operation["security"]:
        statuses.setdefault(401, _ERROR_ANSWERS[401])
    operation["responses"] = {str(status): statuses[status] for status in sorted(statuses)}


def _definitions(parts: list[OpenApiPart]) -> dict[str, Any]:
    models = [model for part in parts for model in part.models]
    _, schema = models_json_schema([(model, "validation") for model in models], ref_template=_REF)
    defs = schema["$defs"]
    converter = SchemaConverter(defs, _presentation(parts, models), list(SOURCE_NAMES))
    converted = {name: converter.definition(name) for name in defs}
    used = referenced(converted, {model.__name__ for model in models})
    return {name: converted[name] for name in sorted(used)}


def _presentation(parts: list[OpenApiPart], models: list[type[BaseModel]]) -> Presentation:
    hints = Presentation(internal=set(_INTERNAL))
    for part in parts:
        hints.summaries |= part.summaries
        hints.important |= part.important
        hints.definition_texts |= part.definition_texts
        hints.property_texts |= part.property_texts
        hints.property_visibility |= part.property_visibility
        hints.not_null |= part.not_null
    hints.timestamps = {
        (model.__name__, field.alias or name)
        for model in models
        for name, field in model.model_fields.items()
        if field.annotation == Timestamp or Timestamp in get_args(field.annotation)
    }
    return hints
