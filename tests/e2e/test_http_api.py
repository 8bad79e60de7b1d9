"""The HTTP routes of the real app, served by the local host, called like Power Automate."""

from __future__ import annotations

import pytest

from .conftest import PROFILES, Stack

pytestmark = pytest.mark.e2e

INT64_MAX = 2**63 - 1


def test_get_status_returns_what_graph_sent_with_an_etag(stack: Stack) -> None:
    sent = {
        "status": "error",
        "statusMessage": "Sync stopped.\r\nSee the errors.",
        "errorCount": INT64_MAX,
        "lastActivityDateTime": "2026-01-02T03:04:05.1234567Z",
        "lastSynchronizationDateTime": "2026-01-02T03:00:00.7654321Z",
    }
    profile_id = stack.add_profile(status=sent)
    stack.poll()

    response = stack.api.get(stack.status_path(profile_id))

    assert response.status_code == 200
    assert response.headers["ETag"]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["@odata.context"]
    assert {k: body[k] for k in sent} == sent
    assert body["id"] == profile_id
    assert f'"errorCount": {INT64_MAX}' in response.text or f'"errorCount":{INT64_MAX}' in (
        response.text
    )


def test_list_with_status_filter_and_top(stack: Stack) -> None:
    quarantined = stack.add_profile(status={"status": "quarantined", "errorCount": 1})
    stack.poll()

    filtered = stack.api.get(PROFILES, params={"status": "error,quarantined"})
    assert filtered.status_code == 200
    values = filtered.json()["value"]
    assert quarantined in {p["id"] for p in values}
    assert {p["profileStatus"]["status"] for p in values} <= {"error", "quarantined"}
    assert all({"id", "displayName", "state", "profileStatus"} <= set(p) for p in values)

    first_page = stack.api.get(PROFILES, params={"$top": "1"}).json()
    assert len(first_page["value"]) == 1
    assert first_page["@odata.nextLink"].startswith(stack.host.url)


def test_patch_updates_the_status_and_honours_if_match(stack: Stack) -> None:
    profile_id = stack.add_profile(status={"status": "success", "errorCount": 0})
    stack.poll()
    path = stack.status_path(profile_id)
    old_etag = stack.api.get(path).headers["ETag"]

    patched = stack.api.patch(
        path,
        json={"status": "quarantined", "statusMessage": "Paused by IT."},
        headers={"If-Match": old_etag},
    )

    assert patched.status_code == 200, patched.text
    new_etag = patched.headers["ETag"]
    assert new_etag and new_etag != old_etag
    assert patched.json()["status"] == "quarantined"
    again = stack.api.get(path)
    assert again.headers["ETag"] == new_etag
    assert again.json()["statusMessage"] == "Paused by IT."

    stale = stack.api.patch(path, json={"errorCount": 1}, headers={"If-Match": old_etag})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"]


def test_patch_rejects_a_bad_body(stack: Stack) -> None:
    profile_id = stack.add_profile()
    stack.poll()
    response = stack.api.patch(stack.status_path(profile_id), json={"status": 42})
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_unknown_profile_and_unknown_route_are_404(stack: Stack) -> None:
    unknown_profile = stack.api.get(stack.status_path("00000000-0000-0000-0000-000000000000"))
    assert unknown_profile.status_code == 404
    assert unknown_profile.json()["error"]["code"]

    unknown_route = stack.api.get("/api/education/nothingHere")
    assert unknown_route.status_code == 404
    assert unknown_route.json()["error"]["code"] == "NotFound"


def test_wrong_method_is_405_with_allow(stack: Stack) -> None:
    response = stack.api.delete(stack.status_path("any"))
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PATCH"}
    assert stack.api.post(PROFILES).status_code == 405


def test_health_is_anonymous(stack: Stack) -> None:
    stack.poll()
    response = stack.anonymous.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
