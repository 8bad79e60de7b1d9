"""HTTP routes (under host.json's routePrefix, ``/api``): thin handlers over ``shared.api``.

Every route needs a function key (the app's default auth level) except /api/health, which
monitors call anonymously and which shows no tenant data.
"""

from __future__ import annotations

import azure.functions as func

from shared import api
from shared.http import read_json_body, respond

bp = func.Blueprint()

_PROFILE_STATUS = "education/synchronizationProfiles/{id}/profileStatus"


@bp.route(route="education/synchronizationProfiles", methods=["GET"])
async def list_synchronization_profiles(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.list_synchronization_profiles(req.url, req.params))


@bp.route(route=_PROFILE_STATUS, methods=["GET"])
async def get_profile_status(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.get_profile_status(req.route_params.get("id", "")))


@bp.route(route=_PROFILE_STATUS, methods=["PATCH"])
async def update_profile_status(req: func.HttpRequest) -> func.HttpResponse:
    async def update() -> func.HttpResponse:
        body = read_json_body(req)
        return await api.update_profile_status(
            req.route_params.get("id", ""), body, req.headers.get("If-Match")
        )

    return await respond(update())


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.health())
