"""Property-based tests of the whole HTTP API from its own OpenAPI document: schemathesis
loads what the local host serves at /api/openapi.json and calls every operation with
generated requests, valid and invalid. No request may produce a 5xx, every status must be
documented for its operation, and every answer must match its schema.

Bounded for CI: 25 examples per operation, derandomized (the same requests on every run),
no deadline (the first calls of an operation pay for cold tables). The tests run against
the session's stack (a poll done, so profiles are cached); subscriptions the generated
requests create are deleted afterwards, so no later poll tries to deliver to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tools.export_connector import DEFINITION

from .conftest import E2E_SERVICE_PRINCIPAL, PROFILES, HostProcess, Stack

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
REQUEST_TIMEOUT = 15


@pytest.fixture(scope="module")
def served_schema(stack: Stack, host: HostProcess) -> Any:
    """The document the app serves, pointed at the local host (its host is a placeholder)."""
    schema = schemathesis.openapi.from_url(f"{host.url}/api/openapi.json", timeout=15)
    schema.config.update(base_url=f"{host.url}/api")
    return schema


@pytest.fixture(scope="module", autouse=True)
def _remove_generated_subscriptions(stack: Stack) -> Iterator[None]:
    """Subscriptions to generated URLs would get events after later polls: delete them."""
    before = _subscription_ids(stack)
    yield
    for subscription_id in _subscription_ids(stack) - before:
        response = stack.api.delete(f"/api/subscriptions/{subscription_id}")
        assert response.status_code in (204, 404), response.text


def test_served_document_is_the_committed_connector_definition(stack: Stack) -> None:
    response = stack.anonymous.get("/api/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.text == DEFINITION.read_text(encoding="utf-8")


def _subscription_ids(stack: Stack) -> set[str]:
    response = stack.api.get("/api/subscriptions")
    if response.status_code != 200:  # the route is missing: nothing to clean up
        return set()
    return {subscription["id"] for subscription in response.json()["value"]}


# Every operation of the committed document (tests/unit/test_openapi.py checks it describes
# every registered route), each its own test. (schemathesis.pytest.from_fixture,
# which would do this, fails under pytest 9: it sets Function._nodeid, which pytest 9 removed.)
OPERATIONS = tuple(
    operation["operationId"]
    for path in json.loads(DEFINITION.read_text(encoding="utf-8"))["paths"].values()
    for operation in path.values()
    if isinstance(operation, dict) and "operationId" in operation
)
# operationId -> why it is not run here.
SKIPPED: dict[str, str] = {
    "GetOpenApiDocument": (
        "schemathesis leaves out the operation that serves the schema it loaded; "
        "test_served_document_is_the_committed_connector_definition checks it byte for byte"
    ),
}


def test_every_served_operation_is_tested(served_schema: Any) -> None:
    served = {
        result.ok().definition.raw["operationId"] for result in served_schema.get_all_operations()
    }
    assert served == set(OPERATIONS) - set(SKIPPED)


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_operation(served_schema: Any, host: HostProcess, operation_id: str) -> None:
    if operation_id in SKIPPED:
        pytest.skip(SKIPPED[operation_id])
    operation = served_schema.find_operation_by_id(operation_id)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        case.call_and_validate(
            headers={"x-functions-key": host.function_key},
            checks=CHECKS,
            timeout=REQUEST_TIMEOUT,
        )

    call()


def test_real_items_match_their_schemas(
    served_schema: Any, stack: Stack, host: HostProcess
) -> None:
    """Generated ids rarely exist, so the item operations are also called once with items
    that do: a profile of this test's own (updated, so it has a history) and a subscription."""
    profile_id = stack.add_profile(status={"status": "success", "errorCount": 0})
    stack.poll()
    headers = {"x-functions-key": host.function_key}

    def check(path: str, method: str, **parts: Any) -> Any:
        case = served_schema[path][method].Case(**parts)
        return case.call_and_validate(headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT)

    status_path = "/education/synchronizationProfiles/{id}/profileStatus"
    (etag,) = check(status_path, "GET", path_parameters={"id": profile_id}).headers["etag"]
    patched = check(
        status_path,
        "PATCH",
        path_parameters={"id": profile_id},
        headers={"If-Match": etag},
        body={"status": "error", "statusMessage": None, "errorCount": 2**63 - 1},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] != [etag]
    listed = check("/education/synchronizationProfiles", "GET", query={"$top": 2})
    assert listed.json().get("@odata.nextLink"), "the stack has more than 2 profiles"
    check("/statuses", "GET", query={"health": "error,healthy", "$top": 3})
    history = check(
        "/statuses/{source}/{id}/history",
        "GET",
        path_parameters={"source": "educationSynchronizationProfiles", "id": profile_id},
    )
    assert history.json()["value"], "the PATCH is in the history"
    created = check(
        "/subscriptions",
        "POST",
        body={"notificationUrl": "https://flow.example.com/hook?sig=1", "filter": {"ids": ["x"]}},
    )
    assert created.status_code == 201, created.text
    subscription_id = created.json()["id"]
    check("/subscriptions", "GET")
    check("/subscriptions/{id}", "GET", path_parameters={"id": subscription_id})
    deleted = check("/subscriptions/{id}", "DELETE", path_parameters={"id": subscription_id})
    assert deleted.status_code == 204
    check("/health", "GET")
    assert stack.api.get(f"{PROFILES}/{profile_id}/profileStatus").status_code == 200
    # A monitored job acted on: the 202 with the job, then the cooldown's 429.
    added = stack.tenant.put(
        f"/_tenant/servicePrincipals/{E2E_SERVICE_PRINCIPAL}/jobs/e2e.job", json={}
    )
    assert added.is_success, added.text
    stack.poll()
    job = {"servicePrincipalId": E2E_SERVICE_PRINCIPAL, "jobId": "e2e.job"}
    jobs = "/servicePrincipals/{servicePrincipalId}/synchronization/jobs/{jobId}"
    restarted = check(f"{jobs}/restart", "POST", path_parameters=job,
                      body={"criteria": {"resetScope": ["QuarantineState"]}})  # fmt: skip
    assert restarted.status_code == 202, restarted.text
    again = check(f"{jobs}/pause", "POST", path_parameters=job)
    assert again.status_code == 429 and again.headers["retry-after"]
