"""HTTP routes (under host.json's routePrefix, ``/api``): every route of the API, the app's
own and each source's, registered from one list; the handlers are given the app's settings,
store and (for the job actions) a Graph client by the composition root.

Every route needs a function key (the app's default auth level) except /api/health, which
monitors call anonymously and which shows no tenant data, and /api/openapi.json; the board
takes the key as ?code= (or a sign-in, see shared/http/board/access.py).
"""

from __future__ import annotations

import os

import azure.functions as func

from shared import composition
from shared.http.board import (
    ACTION_ROUTE,
    BOARD_ROUTE,
    INCIDENT_ACTION_ROUTE,
    INCIDENT_ROUTE,
    ITEM_ROUTE,
    BoardPages,
    action_response,
    board_response,
    incident_action_response,
    incident_response,
    item_response,
)
from shared.http.routes import api_operations, health_response, openapi_response
from shared.http.serving import add_routes
from shared.settings import board_sign_in

bp = func.Blueprint()
# The board needs a function key (?code=), unless App Service Authentication signs people in
# (BOARD_SIGN_IN_ENABLED): the host then lets them through and the app checks the sign-in.
_BOARD_AUTH = func.AuthLevel.ANONYMOUS if board_sign_in(os.environ) else None
# The board's rendered pages, once per version of the data (shared/http/board/cache.py).
_BOARD_PAGES = BoardPages()

add_routes(
    bp, api_operations(), composition.services, composition.graph_client,
    signed_in_admins=board_sign_in(os.environ),
)  # fmt: skip


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    return await health_response(composition.services)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def get_openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 2.0 description: anonymous, like /api/health (it describes the API and
    holds no tenant data)."""
    return openapi_response()


@bp.route(route=BOARD_ROUTE, methods=["GET"], auth_level=_BOARD_AUTH)
async def board(req: func.HttpRequest) -> func.HttpResponse:
    """The status board (HTML): every monitored item, worst first, with its last 30 days."""
    return await board_response(req, composition.services, _BOARD_PAGES)


@bp.route(route=ITEM_ROUTE, methods=["GET"], auth_level=_BOARD_AUTH)
async def board_item(req: func.HttpRequest) -> func.HttpResponse:
    """One item of the board (HTML): its history and its document as Graph sent it."""
    return await item_response(req, composition.services)


@bp.route(route=ACTION_ROUTE, methods=["POST"], auth_level=_BOARD_AUTH)
async def board_item_action(req: func.HttpRequest) -> func.HttpResponse:
    """A job action asked from its board page (a form with a token), guarded as the API's."""
    return await action_response(req, composition.services, composition.graph_client)


@bp.route(route=INCIDENT_ROUTE, methods=["GET"], auth_level=_BOARD_AUTH)
async def board_incident(req: func.HttpRequest) -> func.HttpResponse:
    """An incident of the board (HTML): its state and timeline, and (not resolved) its forms."""
    return await incident_response(req, composition.services)


@bp.route(route=INCIDENT_ACTION_ROUTE, methods=["POST"], auth_level=_BOARD_AUTH)
async def board_incident_action(req: func.HttpRequest) -> func.HttpResponse:
    """An incident acknowledged, snoozed or resolved from its board page (a form with a token)."""
    return await incident_action_response(req, composition.services, _BOARD_PAGES)
