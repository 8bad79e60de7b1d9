"""The ``/_tenant/`` control API: steer a tenant that runs in another process.

:class:`ControlApi` serves what concerns the whole tenant (faults, refusals, the request log,
the throttling budget and counters); each area adds the endpoints of its own data. Every
endpoint steers the tenant that ``?tenantId=`` names (the parent without it), and
``/_tenant/tenants`` adds tenants and gives or withdraws their consent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tools.graph_tenant.common import default_error
from tools.graph_tenant.tenants import TENANT_ID_PARAMETER

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

# Properties of a fault in the control API -> keyword of SimulatedTenant.add_fault.
FAULT_FIELDS = {
    "path": "path",
    "status": "status",
    "retryAfter": "retry_after",
    "times": "times",
    "delay": "delay",
    "malformed": "malformed",
    "code": "code",
    "message": "message",
    "method": "method",
    "skip": "skip",
    "body": "body",
}


def control_error(exception: type[web.HTTPException], message: str) -> web.HTTPException:
    """An aiohttp HTTP exception carrying a Graph-shaped JSON error, for the control API."""
    code, _ = default_error(exception.status_code)
    body = json.dumps({"error": {"code": code, "message": message}})
    return exception(text=body, content_type="application/json")


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (an empty body counts as ``{}``)."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise control_error(web.HTTPBadRequest, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise control_error(web.HTTPBadRequest, "The body must be a JSON object.")
    return body


def steered_tenant(root: SimulatedTenant, request: web.Request) -> SimulatedTenant:
    """The tenant ``?tenantId=`` names (``root`` without one); 404 for an unknown one."""
    tenant_id = request.query.get(TENANT_ID_PARAMETER)
    if tenant_id is None:
        return root
    tenant = root._served(tenant_id)
    if tenant is None:
        known = [root.tenant_id, *root.tenants]
        raise control_error(web.HTTPNotFound, f"Unknown tenant {tenant_id!r}; known: {known}.")
    return tenant


def tenant_control_routes(
    root: SimulatedTenant, routes: Sequence[web.RouteDef]
) -> list[web.RouteDef]:
    """``routes`` (the root's control routes), each answering for the tenant the request
    names: the same endpoint of that tenant's own control routes."""

    def dispatcher(index: int) -> Any:
        async def dispatch(request: web.Request) -> web.StreamResponse:
            tenant = steered_tenant(root, request)
            return await tenant._control_routes[index].handler(request)

        return dispatch

    return [
        web.RouteDef(route.method, route.path, dispatcher(index), route.kwargs)
        for index, route in enumerate(routes)
    ]


def tenant_json(tenant: SimulatedTenant) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "displayName": tenant.organization.get("displayName"),
        "consented": tenant.consented,
        "isParent": tenant.parent is None,
    }


class ControlApi:
    """``/_tenant/`` endpoints of a tenant, its areas' included."""

    def __init__(self, tenant: SimulatedTenant) -> None:
        self._tenant = tenant

    def routes(self) -> list[web.RouteDef]:
        area_routes = [route for area in self._tenant.areas for route in area.control_routes()]
        return [
            web.get("/_tenant/health", self.get_health),
            web.get("/_tenant/tenants", self.get_tenants),
            web.post("/_tenant/tenants", self.post_tenant),
            web.patch("/_tenant/tenants/{tenantId}", self.patch_tenant),
            *area_routes,
            web.get("/_tenant/faults", self.get_faults),
            web.post("/_tenant/faults", self.post_fault),
            web.delete("/_tenant/faults", self.delete_faults),
            web.post("/_tenant/sources/{name}/refuse", self.post_refusal),
            web.delete("/_tenant/sources/{name}/refuse", self.delete_refusal),
            web.get("/_tenant/requests", self.get_requests),
            web.delete("/_tenant/requests", self.delete_requests),
            web.get("/_tenant/rateLimit", self.get_rate_limit),
            web.put("/_tenant/rateLimit", self.put_rate_limit),
            web.get("/_tenant/counters", self.get_counters),
            web.delete("/_tenant/counters", self.delete_counters),
            # Last, so that it only catches what no endpoint above serves.
            web.route("*", "/_tenant/{tail:.*}", self.unknown_endpoint),
        ]

    async def get_health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def get_tenants(self, _request: web.Request) -> web.Response:
        """Every tenant of the server, the parent first."""
        root = self._tenant.parent or self._tenant
        tenants = [root, *root.tenants.values()]
        return web.json_response({"value": [tenant_json(tenant) for tenant in tenants]})

    async def post_tenant(self, request: web.Request) -> web.Response:
        """{"tenantId", "consented"?: true, "displayName"?}: one more tenant; answers it."""
        body = await read_object(request)
        unknown = sorted(set(body) - {"tenantId", "consented", "displayName"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown tenant properties: {unknown}.")
        tenant_id, name = body.get("tenantId"), body.get("displayName")
        if not (isinstance(tenant_id, str) and tenant_id.strip()):
            raise control_error(web.HTTPBadRequest, "'tenantId' must be a non-empty string.")
        if name is not None and not isinstance(name, str):
            raise control_error(web.HTTPBadRequest, "'displayName' must be a string.")
        if (self._tenant.parent or self._tenant)._served(tenant_id) is not None:
            raise control_error(web.HTTPConflict, f"Tenant {tenant_id!r} is already served.")
        try:
            added = self._tenant.add_tenant(
                tenant_id, consented=body.get("consented", True), display_name=name
            )
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(tenant_json(added), status=201)

    async def patch_tenant(self, request: web.Request) -> web.Response:
        """{"consented": bool}: give or withdraw a child's consent; answers the tenant."""
        body = await read_object(request)
        if set(body) != {"consented"}:
            raise control_error(web.HTTPBadRequest, 'The body must be {"consented": bool}.')
        tenant_id = request.match_info["tenantId"]
        try:
            self._tenant.set_consented(tenant_id, body["consented"])
        except KeyError:
            raise control_error(web.HTTPNotFound, f"Unknown tenant {tenant_id!r}.") from None
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        changed = (self._tenant.parent or self._tenant)._served(tenant_id)
        assert changed is not None  # set_consented found it
        return web.json_response(tenant_json(changed))

    async def get_faults(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": [fault.to_json() for fault in self._tenant.faults]})

    async def post_fault(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - set(FAULT_FIELDS))
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown fault properties: {unknown}.")
        if "path" not in body:
            raise control_error(web.HTTPBadRequest, "A fault needs a 'path' regex.")
        options = {FAULT_FIELDS[name]: value for name, value in body.items() if name != "path"}
        try:
            fault = self._tenant.add_fault(body["path"], **options)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(fault.to_json(), status=201)

    async def delete_faults(self, _request: web.Request) -> web.Response:
        self._tenant.clear_faults()
        return web.Response(status=204)

    async def post_refusal(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - {"status", "code", "message"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown refusal properties: {unknown}.")
        name = request.match_info["name"]
        if name not in self._tenant.sources:
            raise control_error(web.HTTPNotFound, f"Unknown source {name!r}.")
        try:
            self._tenant.refuse_source(name, **body)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.Response(status=204)

    async def delete_refusal(self, request: web.Request) -> web.Response:
        try:
            self._tenant.restore_source(request.match_info["name"])
        except ValueError as exc:
            raise control_error(web.HTTPNotFound, str(exc)) from None
        return web.Response(status=204)

    async def get_requests(self, _request: web.Request) -> web.Response:
        recorded = [request.to_json() for request in self._tenant.requests]
        return web.json_response({"value": recorded})

    async def delete_requests(self, _request: web.Request) -> web.Response:
        self._tenant.clear_requests()
        return web.Response(status=204)

    async def get_rate_limit(self, _request: web.Request) -> web.Response:
        return web.json_response(self._rate_limit_json())

    async def put_rate_limit(self, request: web.Request) -> web.Response:
        """{"rateLimit": requests per second or null, "retryAfter": whole seconds}."""
        body = await read_object(request)
        unknown = sorted(set(body) - {"rateLimit", "retryAfter"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown rate limit properties: {unknown}.")
        if "rateLimit" not in body:
            raise control_error(web.HTTPBadRequest, "'rateLimit' is required (null: no limit).")
        retry_after = body.get("retryAfter", self._tenant.throttle_retry_after)
        previous = self._tenant.throttle_retry_after
        try:
            self._tenant.throttle_retry_after = retry_after
            self._tenant.rate_limit = body["rateLimit"]
        except ValueError as exc:
            self._tenant.throttle_retry_after = previous  # all or nothing
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(self._rate_limit_json())

    def _rate_limit_json(self) -> dict[str, Any]:
        return {
            "rateLimit": self._tenant.rate_limit,
            "retryAfter": self._tenant.throttle_retry_after,
        }

    async def get_counters(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requestCount": self._tenant.request_count,
                "subrequestCount": self._tenant.subrequest_count,
                "throttledCount": self._tenant.throttled_count,
            }
        )

    async def delete_counters(self, _request: web.Request) -> web.Response:
        self._tenant.reset_counters()
        return web.Response(status=204)

    async def unknown_endpoint(self, request: web.Request) -> web.Response:
        raise control_error(
            web.HTTPNotFound, f"No control endpoint {request.method} {request.path}."
        )
