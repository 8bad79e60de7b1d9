"""Serving a route: the Functions request in, the handler's reply or error out, and the one
place where errors become responses (so no input ever yields a 500 with a stack trace)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import azure.functions as func

from shared.core.api import ApiCall, Reply
from shared.core.errors import DomainError, SettingsError, StorageUnavailableError
from shared.core.principal import ADMIN_ROLE, PRINCIPAL_HEADER, has_role, principal_claims
from shared.http.errors import UNEXPECTED, ApiError, api_error
from shared.settings import Settings
from shared.sources.base import Handler, Operation, Services
from shared.storage.store import StatusStore

if TYPE_CHECKING:
    from shared.graph.client import GraphClient

logger = logging.getLogger(__name__)

# What a handler is given besides the request: built by the composition root.
Resolve = Callable[[], tuple[Settings, StatusStore]]
# A Graph client for these settings (and a tenant other than the home one, when given).
MakeGraph = Callable[..., "GraphClient"]


def add_routes(
    bp: func.Blueprint,
    operations: Iterable[Operation],
    resolve: Resolve,
    make_graph: MakeGraph,
    *,
    signed_in_admins: bool = False,
) -> None:
    """Register each operation as an HTTP function of the blueprint, under its own name.
    Admin operations take the master key; with ``signed_in_admins`` (App Service
    Authentication in front), the platform signs people in and the app checks their role."""
    for operation in operations:
        if operation.anonymous or operation.checked_by_app:
            auth: func.AuthLevel | None = func.AuthLevel.ANONYMOUS
        elif operation.admin:
            auth = func.AuthLevel.ANONYMOUS if signed_in_admins else func.AuthLevel.ADMIN
        else:
            auth = None
        route = bp.route(route=operation.route, methods=[operation.method], auth_level=auth)
        checks_role = operation.admin and signed_in_admins
        function = _function(operation.handler, resolve, make_graph, checks_role)
        bp.function_name(name=operation.name)(route(function))


def _function(
    handler: Handler, resolve: Resolve, make_graph: MakeGraph, checks_role: bool
) -> Callable[..., Any]:
    async def function(req: func.HttpRequest) -> func.HttpResponse:
        if checks_role:
            refused = _not_an_admin(req, resolve)
            if refused is not None:
                return refused
        return await serve(req, handler, LazyServices(resolve, make_graph))

    return function


def _not_an_admin(req: func.HttpRequest, resolve: Resolve) -> func.HttpResponse | None:
    """Behind App Service Authentication: 401 unless signed in, 403 without the admin role
    (the principal header is trusted only while the platform says it is in front)."""
    try:
        settings, _store = resolve()
    except Exception as error:
        return failure_response(error)
    claims = principal_claims(req.headers.get(PRINCIPAL_HEADER))
    if not settings.platform_sign_in or claims is None:
        return error_response(ApiError(401, "Unauthorized", "Sign in: this route is for admins."))
    if not has_role(claims, ADMIN_ROLE):
        return error_response(
            ApiError(403, "Forbidden", f"This route needs the app role {ADMIN_ROLE}.")
        )
    return None


async def serve(req: func.HttpRequest, handler: Handler, services: Services) -> func.HttpResponse:
    """Run a handler on a request and answer its reply, or its failure in Graph's shape."""
    try:
        reply = await handler(api_call(req, _public_base_url(services)), services)
    except Exception as error:
        return failure_response(error)
    return reply_response(reply)


def failure_response(error: Exception) -> func.HttpResponse:
    """A failure as the caller sees it: a domain error in Graph's shape, anything else (a
    bug, not the caller's fault) logged with its stack trace and answered without it."""
    answer = api_error(error) if isinstance(error, DomainError) else UNEXPECTED
    if answer is UNEXPECTED:
        logger.error("Unhandled error", exc_info=error)
    elif isinstance(error, StorageUnavailableError):
        logger.warning("Table Storage unavailable: %s", error)
    elif isinstance(error, SettingsError):
        logger.error("Configuration error: %s", error)
    return error_response(answer)


class LazyServices:
    """The settings and the store, resolved by the composition root on first use, and a
    Graph client made by it for the routes that act through Graph."""

    def __init__(self, resolve: Resolve, make_graph: MakeGraph) -> None:
        self._resolve = resolve
        self._make_graph = make_graph

    def graph(self) -> GraphClient:
        return self._make_graph(self.settings)

    def tenant_graph(self, settings: Settings, tenant: Any) -> GraphClient:
        """A Graph client for a tenant's route (``http.tenant_scope``), with its token."""
        return self._make_graph(settings, tenant=tenant)

    @property
    def tenant_id(self) -> str | None:
        return None

    @property
    def settings(self) -> Settings:
        return self._resolve()[0]

    @property
    def store(self) -> StatusStore:
        return self._resolve()[1]


def _public_base_url(services: Services) -> str | None:
    """The origin of the links a reply builds; None (relative links) while the app is not
    configured, so that the handler still answers bad input with its 400."""
    try:
        return services.settings.public_base_url
    except DomainError:
        return None


def api_call(req: func.HttpRequest, public_base_url: str | None = None) -> ApiCall:
    """The request as handlers see it. Its ``url`` is the configured public origin and the
    request's path: never the Host header, which the caller chooses."""
    path = urlsplit(req.url).path
    return ApiCall(
        url=f"{public_base_url or ''}{path}",
        route=dict(req.route_params),
        query=dict(req.params),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body() or b"",
    )


def reply_response(reply: Reply) -> func.HttpResponse:
    """200 with the body (and its ETag), 201 with the Location of what was created, 202 for
    work Graph accepted, or 204."""
    if reply.body is None:
        return func.HttpResponse(status_code=204)
    if reply.accepted:
        return json_response(reply.body, status=202)
    if reply.location is not None:
        return json_response(reply.body, status=201, headers={"Location": reply.location})
    return json_response(reply.body, headers={"ETag": reply.etag} if reply.etag else None)


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    try:
        data = json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from the request: escape everything
        data = json.dumps(body).encode()
    return func.HttpResponse(
        data, status_code=status, headers=headers, mimetype="application/json", charset="utf-8"
    )


def error_response(error: ApiError) -> func.HttpResponse:
    return json_response(error.to_json(), status=error.status, headers=error.headers)
