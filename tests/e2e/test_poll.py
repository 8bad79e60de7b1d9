"""The timer function started through the host's admin API, against the simulated tenant."""

from __future__ import annotations

import pytest

from .conftest import PROFILES, Stack

pytestmark = pytest.mark.e2e


def test_admin_poll_caches_every_tenant_profile(stack: Stack) -> None:
    profile_id = stack.add_profile()
    assert stack.tenant.delete("/_tenant/requests").status_code == 204

    last = stack.poll()

    assert last["outcome"] == "succeeded"
    tenant_ids = {p["profile"]["id"] for p in stack.tenant.get("/_tenant/profiles").json()["value"]}
    cached = _all_cached(stack)
    assert profile_id in cached
    assert tenant_ids <= set(cached)
    requests = stack.tenant.get("/_tenant/requests").json()["value"]
    assert any(
        r["method"] == "GET" and r["path"] == "/beta/education/synchronizationProfiles"
        for r in requests
    )


def test_unknown_function_and_http_function_via_admin_api(stack: Stack) -> None:
    missing = stack.admin.post("/admin/functions/no_such_function", json={"input": ""})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"
    http_function = stack.admin.post("/admin/functions/health", json={"input": ""})
    assert http_function.status_code == 400


def test_host_status(stack: Stack) -> None:
    status = stack.admin.get("/admin/host/status")
    assert status.status_code == 200
    body = status.json()
    assert body["state"] == "Running"
    assert body["id"] and body["version"] and body["processUptime"] > 0


def test_a_failing_profile_keeps_its_cached_value_and_shows_in_health(stack: Stack) -> None:
    broken = stack.add_profile(status={"status": "success", "errorCount": 0})
    changing = stack.add_profile(status={"status": "success", "errorCount": 0})
    stack.poll()
    try:
        for profile_id in (broken, changing):
            changed = stack.tenant.patch(
                f"/_tenant/profiles/{profile_id}/profileStatus",
                json={"status": "error", "errorCount": 3},
            )
            assert changed.status_code == 200
        fault = stack.tenant.post(
            "/_tenant/faults",
            json={"path": f".*/{broken}/profileStatus", "status": 500, "times": None},
        )
        assert fault.status_code == 201, fault.text

        last = stack.poll()

        assert last["outcome"] == "partial"
        assert stack.api.get(stack.status_path(broken)).json()["status"] == "success"
        assert stack.api.get(stack.status_path(changing)).json()["status"] == "error"
        health = stack.anonymous.get("/api/health")
        assert health.status_code == 503
        assert health.json()["status"] != "healthy"
    finally:
        assert stack.tenant.delete("/_tenant/faults").status_code == 204
    # Once Graph answers again, the next poll catches up and health recovers.
    assert stack.poll()["outcome"] == "succeeded"
    assert stack.api.get(stack.status_path(broken)).json()["status"] == "error"
    assert stack.anonymous.get("/api/health").status_code == 200


def _all_cached(stack: Stack) -> dict[str, dict]:
    """Every cached profile, following @odata.nextLink through the host."""
    profiles: dict[str, dict] = {}
    url: str | None = f"{PROFILES}?$top=3"
    while url:
        page = stack.api.get(url)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["value"]) <= 3
        profiles.update({p["id"]: p for p in body["value"]})
        url = body.get("@odata.nextLink")
    return profiles
