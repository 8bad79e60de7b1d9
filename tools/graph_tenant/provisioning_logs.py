"""The provisioning logs (v1.0 ``GET /auditLogs/provisioning``): what the provisioning service
did to each object, newest first, filtered and paged, and throttled as Graph throttles its
identity reports.

Graph lets an app ask the audit logs at most 5 times in 10 seconds (far below its general
budget); the 6th request answers 429 with a ``Retry-After``. Apps that read the logs for every
job with trouble meet that limit at once, so the tenant applies it by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from tools.graph_tenant.common import GraphAnswer, GraphCall, Paging, Route, json_copy, page
from tools.graph_tenant.control import control_error, read_object
from tools.graph_tenant.misbehaviour import SlidingWindow
from tools.graph_tenant.provisioning_log_filter import parse_filter, timestamp_ticks

AUDIT_LOGS_PATH = re.compile(r"/v1\.0/auditLogs/(?P<rest>.+)")
# Graph's limit on the identity reports: requests per window of seconds, for each app.
REPORT_REQUESTS = 5
REPORT_SECONDS = 10.0


class ProvisioningLogsArea:
    """The tenant's provisioning events (provisioningObjectSummary, kept verbatim), newest
    ``activityDateTime`` first, and the sliding window that throttles the audit logs."""

    source = "auditLogs"
    prefix = "/v1.0/auditLogs/"
    segment = "auditLogs"

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        # (activity in ticks, -1 when unreadable; order added; event), newest first.
        self._entries: list[tuple[int, int, dict[str, Any]]] = []
        self._added = 0
        self._window = SlidingWindow(REPORT_REQUESTS, REPORT_SECONDS)
        self._throttled = 0

    # -- tenant data (delegated to by SimulatedTenant's methods of the same names) -----------

    def add_provisioning_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Add provisioningObjectSummary objects, each kept verbatim (a copy). The listing
        orders them by ``activityDateTime``, newest first (the latest added first among equal
        times, those without a readable time last). ValueError, and nothing added, when one
        is not a JSON object."""
        added = list(events)
        if not all(isinstance(event, Mapping) for event in added):
            raise ValueError("Each provisioning event must be a JSON object.")
        for event in added:
            self._added += 1
            ticks = timestamp_ticks(event.get("activityDateTime"))
            entry = (ticks if ticks is not None else -1, self._added, json_copy(event))
            self._entries.append(entry)
        self._entries.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)

    def clear_provisioning_events(self) -> None:
        self._entries.clear()

    @property
    def provisioning_events(self) -> list[dict[str, Any]]:
        """A snapshot of every event, in the listing's order (newest first)."""
        return [json_copy(event) for _, _, event in self._entries]

    def set_report_rate_limit(self, requests: int, per_seconds: float = REPORT_SECONDS) -> None:
        """Let at most ``requests`` audit-log requests (top-level or batched) through in any
        ``per_seconds``; 0 requests: no limit. The window starts empty. Graph's is 5 in 10."""
        self._window = SlidingWindow(requests, per_seconds)

    @property
    def report_rate_limit(self) -> tuple[int, float]:
        """(requests, per seconds) of the audit logs' limit; 0 requests: no limit."""
        return self._window.requests, self._window.per_seconds

    @property
    def report_throttled_count(self) -> int:
        """429 answers the audit logs' limit gave (also counted in the tenant's)."""
        return self._throttled

    # -- Graph -------------------------------------------------------------------------------

    def graph_routes(self) -> list[Route]:
        return [Route("GET", AUDIT_LOGS_PATH, self._serve_audit_logs)]

    async def _serve_audit_logs(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """Every audit-log request takes a place in the window first, then is answered: the
        provisioning logs, one event, or Graph's 404 for the reports not simulated."""
        retry_after = self._window.take()
        if retry_after is not None:
            self._throttled += 1
            return call.error(429, "TooManyRequests", retry_after=retry_after)
        report, _, event_id = match["rest"].partition("/")
        if report == "provisioning" and not event_id:
            return self._serve_events(call)
        if report == "provisioning" and "/" not in event_id:
            return self._serve_event(call, event_id)
        segment = match["rest"].rstrip("/").rsplit("/", 1)[-1]
        return call.error(404, message=f"Resource not found for the segment '{segment}'.")

    def _serve_events(self, call: GraphCall) -> GraphAnswer:
        events = [event for _, _, event in self._entries]
        if "$filter" in call.query:
            try:
                test = parse_filter(call.query["$filter"])
            except ValueError as exc:
                return call.error(400, "BadRequest", str(exc))
            events = [event for event in events if test(event)]
        context = f"{call.base_url}/v1.0/$metadata#auditLogs/provisioning"
        return page(call, events, lambda event: event, context, self._paging, ("$filter",))

    def _serve_event(self, call: GraphCall, event_id: str) -> GraphAnswer:
        for _, _, event in self._entries:
            if event.get("id") == event_id:
                context = f"{call.base_url}/v1.0/$metadata#auditLogs/provisioning/$entity"
                return call.answer(200, {"@odata.context": context, **event})
        return call.error(404, "ResourceNotFound", f"Resource '{event_id}' does not exist.")

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        events = "/_tenant/auditLogs/provisioning"
        limit = "/_tenant/auditLogs/rateLimit"
        return [
            web.get(events, self._control_get_events),
            web.post(events, self._control_post_events),
            web.delete(events, self._control_delete_events),
            web.get(limit, self._control_get_rate_limit),
            web.put(limit, self._control_put_rate_limit),
        ]

    async def _control_get_events(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": self.provisioning_events})

    async def _control_post_events(self, request: web.Request) -> web.Response:
        """Add one event (a JSON object) or several (a list of them); answers how many."""
        try:
            body = await request.json()
        except ValueError:
            raise control_error(web.HTTPBadRequest, "The body is not valid JSON.") from None
        events = body if isinstance(body, list) else [body]
        try:
            self.add_provisioning_events(events)
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response({"added": len(events)}, status=201)

    async def _control_delete_events(self, _request: web.Request) -> web.Response:
        self.clear_provisioning_events()
        return web.Response(status=204)

    async def _control_get_rate_limit(self, _request: web.Request) -> web.Response:
        return web.json_response(self._rate_limit_json())

    async def _control_put_rate_limit(self, request: web.Request) -> web.Response:
        """{"requests": per window (0: no limit), "perSeconds"?: the window (10)}."""
        body = await read_object(request)
        unknown = sorted(set(body) - {"requests", "perSeconds"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown rate limit properties: {unknown}.")
        if "requests" not in body:
            raise control_error(web.HTTPBadRequest, "'requests' is required (0: no limit).")
        try:
            self.set_report_rate_limit(body["requests"], body.get("perSeconds", REPORT_SECONDS))
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response(self._rate_limit_json())

    def _rate_limit_json(self) -> dict[str, Any]:
        requests, per_seconds = self.report_rate_limit
        return {
            "requests": requests,
            "perSeconds": per_seconds,
            "throttledCount": self._throttled,
        }
