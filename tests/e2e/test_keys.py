"""Function keys through the host: header, ?code=, wrong or missing key, admin API."""

from __future__ import annotations

import pytest

from .conftest import PROFILES, Stack

pytestmark = pytest.mark.e2e


def test_missing_or_wrong_key_is_401(stack: Stack) -> None:
    missing = stack.anonymous.get(PROFILES)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "Unauthorized"
    wrong = stack.anonymous.get(PROFILES, headers={"x-functions-key": "not-the-key"})
    assert wrong.status_code == 401
    wrong_code = stack.anonymous.get(PROFILES, params={"code": "not-the-key"})
    assert wrong_code.status_code == 401


def test_function_key_as_code_query_parameter(stack: Stack) -> None:
    response = stack.anonymous.get(PROFILES, params={"code": stack.host.function_key})
    assert response.status_code == 200
    assert "value" in response.json()


def test_master_key_opens_function_routes(stack: Stack) -> None:
    assert stack.admin.get(PROFILES).status_code == 200


def test_admin_api_needs_the_master_key(stack: Stack) -> None:
    poll = "/admin/functions/poll_sync_statuses"
    assert stack.anonymous.post(poll, json={"input": ""}).status_code == 401
    assert stack.api.post(poll, json={"input": ""}).status_code == 401
    assert stack.anonymous.get("/admin/host/status").status_code == 401
