"""`make run`'s demo registration (tools/demo_registry.py), against a stand-in for the API:
the tenants, then the maintenance window, added once however often `make run` starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.core.time import graph_timestamp
from tools.demo_registry import (
    DEMO_WINDOW_REASON,
    DEMO_WINDOW_SOURCE,
    DEMO_WINDOW_TENANT_ID,
    register_demo_tenants,
)


class Api:
    """The routes the registration uses: tenants (409 once added) and the windows."""

    def __init__(self, windows: list[dict[str, Any]] | None = None) -> None:
        self.tenants: set[str] = set()
        self.windows = list(windows or [])
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/api/tenants":
            tenant = json.loads(request.content)["tenantId"]
            added = tenant not in self.tenants
            self.tenants.add(tenant)
            return httpx.Response(201 if added else 409, json={})
        assert request.url.params["tenantId"] == DEMO_WINDOW_TENANT_ID
        if request.method == "GET":
            return httpx.Response(200, json={"value": self.windows})
        if request.method == "DELETE":
            window_id = request.url.path.rsplit("/", 1)[1]
            self.windows = [w for w in self.windows if w["id"] != window_id]
            return httpx.Response(204)
        body = json.loads(request.content)
        self.windows.append(body | {"id": f"w{len(self.calls)}"})
        return httpx.Response(201, json=self.windows[-1])


def window(id_: str, ends_in_hours: float, reason: str = DEMO_WINDOW_REASON) -> dict[str, Any]:
    end = datetime.now(UTC) + timedelta(hours=ends_in_hours)
    return {"id": id_, "reason": reason, "endDateTime": graph_timestamp(end)}


async def register(api: Api, **kwargs: Any) -> list[str]:
    transport = httpx.MockTransport(api)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await register_demo_tenants(client, **kwargs)


async def test_a_first_run_adds_the_tenants_and_a_window_over_the_school_runs() -> None:
    api = Api()

    assert await register(api, window_hours=2) == []

    (added,) = api.windows
    assert added["source"] == DEMO_WINDOW_SOURCE
    assert added["reason"] == DEMO_WINDOW_REASON
    start = datetime.fromisoformat(added["startDateTime"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(added["endDateTime"].replace("Z", "+00:00"))
    assert end - start == timedelta(hours=2)
    assert len(api.tenants) == 2


async def test_a_second_run_keeps_the_window_in_force() -> None:
    api = Api()
    await register(api)
    first = list(api.windows)

    assert await register(api) == []

    assert api.windows == first
    assert api.calls.count("POST /api/maintenanceWindows") == 1
    assert api.calls.count("GET /api/maintenanceWindows") == 2


async def test_a_window_over_is_replaced_and_others_are_left_alone() -> None:
    other = window("theirs", -1, reason="Someone else's")
    api = Api([window("old", -1), other])

    assert await register(api) == []

    assert api.windows[0]["id"] == "theirs"
    assert len(api.windows) == 2 and api.windows[1]["reason"] == DEMO_WINDOW_REASON
    assert "DELETE /api/maintenanceWindows/old" in api.calls
