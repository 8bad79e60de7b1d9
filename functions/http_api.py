"""HTTP routes (under host.json's routePrefix, ``/api``): every route of the API, the app's
own and each source's, registered from one list; the handlers are given the app's settings,
store and (for the job actions) a Graph client by the composition root.

Every route needs a function key (the app's default auth level) except /api/health, which
monitors call anonymously and which shows no tenant data, and /api/openapi.json.
"""

from __future__ import annotations

import azure.functions as func

from shared import composition
from shared.http.routes import api_operations, health_response, openapi_response
from shared.http.serving import add_routes

bp = func.Blueprint()

add_routes(bp, api_operations(), composition.services, composition.graph_client)


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    return await health_response(composition.services)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def get_openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 2.0 description: anonymous, like /api/health (it describes the API and
    holds no tenant data)."""
    return openapi_response()
