"""The words the OpenAPI 2.0 (Swagger) document is written in: parameters, operations,
answers and errors, and the part of the document each source contributes (``OpenApiPart``).

The document itself is put together in ``shared.http.openapi`` from the app's own routes and
every source's part.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import WithJsonSchema

from shared.core.api import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from shared.core.errors import DomainError

# Where an operation keeps its errors until the document describes them (never served).
ERRORS_KEY = "_errors"

Int64 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int64"})]
Int32 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int32"})]


class GraphResource(BaseModel):
    """A Graph resource as cached: every property may be null or missing, and properties
    Graph adds later are served too."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class OpenApiPart:
    """What one source adds to the document: its paths, the models its answers and request
    bodies are described by, and how their properties are presented to a flow maker."""

    # Path (under basePath) -> path item, built when the document is.
    paths: Callable[[], dict[str, Any]]
    models: tuple[type[BaseModel], ...]
    # x-ms-summary of properties whose title is not just their name in words.
    summaries: Mapping[str, str] = field(default_factory=dict)
    # Properties a flow maker looks for first (the others are advanced).
    important: frozenset[str] = frozenset()
    # Descriptions of definitions and properties the models leave to developers.
    definition_texts: Mapping[str, str] = field(default_factory=dict)
    property_texts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # Where a property's visibility differs from its name's.
    property_visibility: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # Request properties refused as null though their model's type allows None.
    not_null: Mapping[str, frozenset[str]] = field(default_factory=dict)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def param(
    name: str,
    where: str,
    summary: str,
    description: str,
    *,
    required: bool = False,
    visibility: str = "advanced",
    **schema: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "type": schema.pop("type", "string"),
        **schema,
        "description": description,
        "x-ms-summary": summary,
        "x-ms-visibility": visibility,
    }


# What Table Storage can hold as a key (shared.storage.keys): anything else is a 400.
ITEM_KEY = {"pattern": r"^[^/\\#?\x00-\x1f\x7f-\x9f]+$", "maxLength": 512}


def path_param(name: str, summary: str, description: str, **schema: Any) -> dict[str, Any]:
    return param(
        name,
        "path",
        summary,
        description,
        required=True,
        visibility="important",
        minLength=1,
        **schema,
    )


TOP = param(
    "$top",
    "query",
    "Page Size",
    f"How many items a page holds, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
    type="integer",
    format="int32",
    minimum=1,
    maximum=MAX_PAGE_SIZE,
    default=DEFAULT_PAGE_SIZE,
)
SKIPTOKEN = param(
    "$skiptoken",
    "query",
    "Skip Token",
    "Where the next page starts: take it from @odata.nextLink, as given.",
    visibility="internal",
)
IF_MATCH = param(
    "If-Match",
    "header",
    "If-Match",
    "The ETag of the status as last read: the update is refused (412) if it changed since. "
    "* or nothing updates whatever version is current.",
)

RETRY_AFTER = {
    "Retry-After": {
        "type": "integer",
        "description": "Seconds to wait before trying again.",
        "x-ms-summary": "Retry After",
    }
}
ETAG = {
    "ETag": {
        "type": "string",
        "description": "The version of the status, for If-Match.",
        "x-ms-summary": "ETag",
    }
}


def operation(
    operation_id: str,
    summary: str,
    description: str,
    answers: dict[int, dict[str, Any]],
    errors: tuple[type[DomainError], ...],
    *,
    parameters: tuple[dict[str, Any], ...] = (),
    visibility: str = "important",
    anonymous: bool = False,
    **extensions: Any,
) -> dict[str, Any]:
    """One operation: its answers and the domain errors it may end with (the document turns
    those into their HTTP answers, in Graph's error shape, with 401 unless it is anonymous)."""
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "x-ms-visibility": visibility,
        **extensions,
        "parameters": [copy.deepcopy(parameter) for parameter in parameters],
        "responses": answers,
        ERRORS_KEY: errors,
        "security": [] if anonymous else [{"api_key": []}],
    }


def trigger_operation(
    operation_id: str, summary: str, description: str, request_model: str, hint: str,
    errors: tuple[type[DomainError], ...],
) -> dict[str, Any]:  # fmt: skip
    """A connector trigger (a webhook one): Power Automate POSTs ``request_model`` with its
    callback URL and DELETEs the Location it is answered when the flow is turned off."""
    location = {"type": "string", "description": "The subscription's URL.",
                "x-ms-summary": "Location"}  # fmt: skip
    body = {
        "name": "body", "in": "body", "required": True, "description": "Where to send, and what.",
        "x-ms-summary": "Subscription", "x-ms-visibility": "important",
        "schema": ref(request_model),
    }  # fmt: skip
    created = {
        "description": "Subscribed; DELETE the Location to unsubscribe.",
        "schema": ref("Subscription"),
        "headers": {"Location": location},
    }
    return operation(
        operation_id, summary, description, {201: created}, errors, parameters=(body,),
        **{"x-ms-trigger": "single", "x-ms-trigger-hint": hint},
    )  # fmt: skip
