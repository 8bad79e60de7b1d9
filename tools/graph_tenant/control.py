"""The ``/_tenant/`` control API: steer a tenant that runs in another process.

:class:`ControlApi` serves what concerns the whole tenant (faults, refusals, the request log,
the throttling budget and counters); each area adds the endpoints of its own data.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tools.graph_tenant.common import default_error

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


class ControlApi:
    """``/_tenant/`` endpoints of a tenant, its areas' included."""

    def __init__(self, tenant: SimulatedTenant) -> None:
        self._tenant = tenant

    def routes(self) -> list[web.RouteDef]:
        area_routes = [route for area in self._tenant.areas for route in area.control_routes()]
        return [
            web.get("/_tenant/health", self.get_health),
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
