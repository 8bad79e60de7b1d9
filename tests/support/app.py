"""The app's functions called the way the host calls them: found through
``app.get_functions()``, given real ``func.HttpRequest`` / ``func.TimerRequest`` objects."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
from azure.functions.timer import TimerRequest


@dataclass
class Reply:
    """An HttpResponse as a caller sees it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@functools.cache
def registered_functions() -> dict[str, Any]:
    """The app's functions by name. Once per process: like the worker, index only once
    (a second ``get_functions()`` on the same app fails its duplicate-name check)."""
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


class App:
    """Calls the app's functions the way the host does: found through ``app.get_functions()``,
    given real ``func.HttpRequest`` / ``func.TimerRequest`` objects."""

    def __init__(self) -> None:
        self.functions = registered_functions()

    def route_of(self, name: str) -> tuple[str, list[str]]:
        trigger = self.functions[name].get_trigger()
        return trigger.route, [str(method.value) for method in trigger.methods]

    async def call(
        self,
        name: str,
        *,
        method: str = "GET",
        route_params: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        origin: str = "http://localhost:7071",
    ) -> Reply:
        """Call a function; its request's URL starts with ``origin``, which the host takes
        from the request's Host header (so a caller may name any)."""
        route, methods = self.route_of(name)
        assert method in methods, f"{name} does not take {method}"
        path = route
        for key, value in (route_params or {}).items():
            path = path.replace("{" + key + "}", value)
        url = f"{origin}/api/{path}"
        if params:
            url += "?" + urlencode(params, errors="surrogatepass")
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        request = func.HttpRequest(
            method=method,
            url=url,
            headers=headers or {},
            params=params or {},
            route_params=route_params or {},
            body=body or b"",
        )
        response: func.HttpResponse = await self.functions[name].get_user_function()(request)
        headers = dict(response.headers)
        if response.mimetype:  # the host turns mimetype and charset into Content-Type
            headers.setdefault("Content-Type", f"{response.mimetype}; charset={response.charset}")
        return Reply(response.status_code, headers, response.get_body())

    async def get_status(self, profile_id: str, **kwargs: Any) -> Reply:
        return await self.call("get_profile_status", route_params={"id": profile_id}, **kwargs)

    async def patch_status(
        self, profile_id: str, body: Any, *, if_match: str | None = None
    ) -> Reply:
        headers = {"Content-Type": "application/json"}
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.call(
            "update_profile_status",
            method="PATCH",
            route_params={"id": profile_id},
            headers=headers,
            body=body,
        )

    async def list_profiles(self, **params: str) -> Reply:
        return await self.call("list_synchronization_profiles", params=params)

    async def health(self) -> Reply:
        return await self.call("health")

    async def statuses(self, **params: str) -> Reply:
        return await self.call("list_statuses", params=params)

    async def jobs(self, sp_id: str) -> Reply:
        return await self.call(
            "list_synchronization_jobs", route_params={"servicePrincipalId": sp_id}
        )

    async def job(self, sp_id: str, job_id: str) -> Reply:
        return await self.call(
            "get_synchronization_job",
            route_params={"servicePrincipalId": sp_id, "jobId": job_id},
        )

    async def runs(self) -> Reply:
        return await self.call("list_industry_data_runs")

    async def run(self, run_id: str) -> Reply:
        return await self.call("get_industry_data_run", route_params={"id": run_id})

    async def run_statistics(self, run_id: str) -> Reply:
        return await self.call("get_industry_data_run_statistics", route_params={"id": run_id})

    async def poll(self) -> None:
        """Run the timer function once, as the host (or the admin API) would."""
        timer = TimerRequest(past_due=False)
        await self.functions["poll_sync_statuses"].get_user_function()(timer)
