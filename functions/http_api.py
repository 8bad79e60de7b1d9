"""HTTP routes (under host.json's routePrefix, ``/api``): thin handlers over ``shared.api``.

Every route needs a function key (the app's default auth level) except /api/health, which
monitors call anonymously and which shows no tenant data, and /api/openapi.json.
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


@bp.route(route="statuses", methods=["GET"])
async def list_statuses(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.list_statuses(req.url, req.params))


_JOBS = "servicePrincipals/{servicePrincipalId}/synchronization/jobs"
_RUNS = "external/industryData/runs"


@bp.route(route=_JOBS, methods=["GET"])
async def list_synchronization_jobs(req: func.HttpRequest) -> func.HttpResponse:
    sp_id = req.route_params.get("servicePrincipalId", "")
    return await respond(api.list_synchronization_jobs(sp_id))


@bp.route(route=_JOBS + "/{jobId}", methods=["GET"])
async def get_synchronization_job(req: func.HttpRequest) -> func.HttpResponse:
    sp_id = req.route_params.get("servicePrincipalId", "")
    job_id = req.route_params.get("jobId", "")
    return await respond(api.get_synchronization_job(sp_id, job_id))


@bp.route(route=_RUNS, methods=["GET"])
async def list_industry_data_runs(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.list_industry_data_runs())


@bp.route(route=_RUNS + "/{id}", methods=["GET"])
async def get_industry_data_run(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.get_industry_data_run(req.route_params.get("id", "")))


@bp.route(route=_RUNS + "/{id}/getStatistics", methods=["GET"])
async def get_industry_data_run_statistics(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.get_industry_data_run_statistics(req.route_params.get("id", "")))


@bp.route(route="statuses/{source}/{id}/history", methods=["GET"])
async def get_status_history(req: func.HttpRequest) -> func.HttpResponse:
    source, item_id = req.route_params.get("source", ""), req.route_params.get("id", "")
    return await respond(api.get_status_history(source, item_id, req.url, req.params))


@bp.route(route="subscriptions", methods=["POST"])
async def create_subscription(req: func.HttpRequest) -> func.HttpResponse:
    async def create() -> func.HttpResponse:
        return await api.create_subscription(req.url, read_json_body(req))

    return await respond(create())


@bp.route(route="subscriptions", methods=["GET"])
async def list_subscriptions(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.list_subscriptions())


@bp.route(route="subscriptions/{id}", methods=["GET"])
async def get_subscription(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.get_subscription(req.route_params.get("id", "")))


@bp.route(route="subscriptions/{id}", methods=["DELETE"])
async def delete_subscription(req: func.HttpRequest) -> func.HttpResponse:
    return await respond(api.delete_subscription(req.route_params.get("id", "")))


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def get_openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 2.0 description: the same bytes as infra/connector/apiDefinition.swagger.json.
    Anonymous, like /api/health: it describes the API and holds no tenant data."""
    from shared.openapi import document_json  # built on first use, not at cold start

    return func.HttpResponse(document_json(), mimetype="application/json", charset="utf-8")
