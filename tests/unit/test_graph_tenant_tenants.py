"""Several tenants behind one simulated Graph server, told apart by the bearer token's ``tid``,
over real HTTP: each tenant's data, faults and request log are its own, unknown and
unconsented tenants are refused as Entra ID refuses them, and the control API steers the
tenant ``?tenantId=`` names."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.graph_tenant import PROFILES, graph_tenant_process, jobs_path
from tools.graph_tenant import (
    DEFAULT_TENANT_ID,
    DEMO_SCHOOL_TENANT_ID,
    DEMO_SCHOOL_TENANT_NAME,
    DEMO_UNCONSENTED_TENANT_ID,
    SimulatedTenant,
    bearer_claims,
    unsigned_token,
)
from tools.graph_tenant.common import ID_NAMESPACE

BATCH = "/beta/$batch"
CHILD_ID = "0b6e4c8a-2f1d-4e7b-9a3c-5d8f1e2a7b60"
OTHER_ID = "7c2d9e41-8b3a-4f6e-a1d5-c9e0f3b2a817"
APP_ID = "3f0c8a1e-6b2d-4c9f-8e7a-1d5b9c0e2f43"
SP_ID = "sp-school"


def token(tenant_id: str | None, app_id: str = APP_ID, **claims: Any) -> dict[str, str]:
    """Headers carrying an unsigned token for ``tenant_id`` (no ``tid`` claim when None)."""
    payload: dict[str, Any] = {
        "appid": app_id,
        "aud": "https://graph.microsoft.com",
        "exp": 4102444800,
        **claims,
    }
    if tenant_id is not None:
        payload["tid"] = tenant_id
    return {"Authorization": f"Bearer {unsigned_token(payload)}"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant(page_size=5) as running:
        yield running


@pytest.fixture
async def child(tenant: SimulatedTenant) -> SimulatedTenant:
    return tenant.add_tenant(CHILD_ID, display_name="Northwind Academy Trust")


def listed_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["value"]]


# -- routing by token ----------------------------------------------------------------------


async def test_a_childs_data_is_listed_only_with_its_token(
    tenant: SimulatedTenant, child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    job_id = child.add_job(SP_ID, "scim.child.job")
    tenant.add_profile("home-profile")
    child.add_profile("child-profile")

    with_child = await client.get(jobs_path(SP_ID), headers=token(CHILD_ID))
    with_parent = await client.get(jobs_path(SP_ID), headers=token(DEFAULT_TENANT_ID))
    without = await client.get(jobs_path(SP_ID))
    child_profiles = await client.get(PROFILES, headers=token(CHILD_ID))
    home_profiles = await client.get(PROFILES)

    assert listed_ids(with_child) == [job_id]
    assert with_parent.status_code == without.status_code == 404
    assert with_parent.json()["error"]["code"] == "Request_ResourceNotFound"
    assert listed_ids(child_profiles) == ["child-profile"]
    assert listed_ids(home_profiles) == ["home-profile"]
    assert tenant.service_principals == {}
    assert child.service_principals == {SP_ID: {job_id: child.get_job(SP_ID, job_id)}}


async def test_each_tenant_records_and_counts_only_its_own_requests(
    tenant: SimulatedTenant, child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    await client.get(PROFILES, headers=token(CHILD_ID))
    await client.get(PROFILES, headers=token(CHILD_ID), params={"$top": "1"})
    await client.get(PROFILES)

    assert [(r.path, r.query, r.tenant_id) for r in child.requests] == [
        (PROFILES, {}, CHILD_ID),
        (PROFILES, {"$top": "1"}, CHILD_ID),
    ]
    assert [(r.path, r.tenant_id) for r in tenant.requests] == [(PROFILES, DEFAULT_TENANT_ID)]
    assert child.requests[0].to_json()["tenantId"] == CHILD_ID
    assert (child.request_count, tenant.request_count) == (2, 1)
    child.clear_requests()
    child.reset_counters()
    assert child.requests == [] and child.request_count == 0
    assert len(tenant.requests) == 1 and tenant.request_count == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        token(None),
        token(""),
        token(DEFAULT_TENANT_ID),
        token(DEFAULT_TENANT_ID.upper()),
    ],
    ids=["no token", "no tid", "empty tid", "parent tid", "parent tid upper case"],
)
async def test_a_request_that_names_no_child_goes_to_the_parent(
    tenant: SimulatedTenant,
    child: SimulatedTenant,
    client: httpx.AsyncClient,
    headers: dict[str, str],
) -> None:
    tenant.add_profile("home")
    child.add_profile("away")

    response = await client.get(PROFILES, headers=headers)

    assert listed_ids(response) == ["home"]
    assert tenant.request_count == 1
    assert child.request_count == 0


async def test_a_tid_is_matched_whatever_its_case(
    child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    child.add_profile("away")

    response = await client.get(PROFILES, headers=token(CHILD_ID.upper()))

    assert listed_ids(response) == ["away"]


async def test_an_unknown_tenant_is_refused_as_entra_refuses_it(
    tenant: SimulatedTenant, child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("home")

    response = await client.get(
        PROFILES, headers={**token(OTHER_ID), "client-request-id": "abc-123"}
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"].startswith(
        f"AADSTS90002: Tenant '{OTHER_ID}' not found. Check to make sure you have the correct "
        "tenant ID and are signing into the correct cloud."
    )
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    # The server's front door (the parent) recorded it; the child never saw it.
    assert [r.tenant_id for r in tenant.requests] == [DEFAULT_TENANT_ID]
    assert child.requests == []


async def test_an_unconsented_tenant_is_refused_until_it_consents(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    unconsented = tenant.add_tenant(OTHER_ID, consented=False, display_name="Tailspin Toys")
    unconsented.add_profile("tailspin")

    refused = await client.get(PROFILES, headers=token(OTHER_ID))
    tenant.set_consented(OTHER_ID, True)
    served = await client.get(PROFILES, headers=token(OTHER_ID))
    tenant.set_consented(OTHER_ID, False)
    refused_again = await client.get(PROFILES, headers=token(OTHER_ID, app_id="another-app"))

    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"].startswith(
        "AADSTS65001: The user or administrator has not consented to use the application "
        f"with ID '{APP_ID}'. Send an interactive authorization request for this user and "
        "resource."
    )
    assert listed_ids(served) == ["tailspin"]
    assert refused_again.status_code == 401
    assert "'another-app'" in refused_again.json()["error"]["message"]
    assert [r.tenant_id for r in unconsented.requests] == [OTHER_ID] * 3
    assert tenant.requests == []


def test_consent_is_a_childs_and_known_tenants_only(tenant: SimulatedTenant) -> None:
    child = tenant.add_tenant(CHILD_ID)

    with pytest.raises(ValueError, match="always consented"):
        tenant.set_consented(DEFAULT_TENANT_ID, False)
    with pytest.raises(KeyError):
        tenant.set_consented(OTHER_ID, True)
    with pytest.raises(ValueError, match="already served"):
        tenant.add_tenant(CHILD_ID.upper())
    with pytest.raises(ValueError, match="already served"):
        child.add_tenant(DEFAULT_TENANT_ID)
    with pytest.raises(ValueError, match="true or false"):
        tenant.add_tenant(OTHER_ID, consented="yes")  # type: ignore[arg-type]
    assert list(tenant.tenants) == [CHILD_ID]
    assert child.tenants == tenant.tenants
    assert child.parent is tenant and tenant.parent is None
    assert child.consented and tenant.consented


# -- malformed tokens ----------------------------------------------------------------------

NOT_JSON = f"{b64url(b'{}')}.{b64url(b'not json')}."
MALFORMED = {
    "not a jwt": "Bearer t0k",
    "two parts": f"Bearer {b64url(b'{}')}.{b64url(b'{}')}",
    "payload not json": f"Bearer {NOT_JSON}",
    "payload not an object": f"Bearer {b64url(b'{}')}.{b64url(b'[1]')}.",
    "not base64url": "Bearer e30=.e30=.",
    "tid not a string": f"Bearer {b64url(b'{}')}.{b64url(json.dumps({'tid': 7}).encode())}.",
    "another scheme": "Basic dXNlcjpwYXNz",
}


@pytest.mark.parametrize("authorization", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_malformed_token_is_refused(
    tenant: SimulatedTenant, client: httpx.AsyncClient, authorization: str
) -> None:
    tenant.add_profile("home")

    response = await client.get(PROFILES, headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"].startswith("Access token validation failure.")
    assert tenant.requests[0].headers["Authorization"] == authorization


async def test_an_empty_bearer_token_is_refused_as_empty(client: httpx.AsyncClient) -> None:
    response = await client.get(PROFILES, headers={"Authorization": "Bearer"})

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Access token is empty."


def test_a_signed_token_is_read_without_checking_its_signature() -> None:
    header = b64url(json.dumps({"alg": "RS256", "kid": "x"}).encode())
    payload = b64url(json.dumps({"tid": CHILD_ID, "appid": APP_ID}).encode())

    claims = bearer_claims(f"Bearer {header}.{payload}.c2lnbmF0dXJl")

    assert claims == {"tid": CHILD_ID, "appid": APP_ID}
    assert bearer_claims(None) == {}
    unsigned = token(CHILD_ID)["Authorization"]
    assert unsigned.endswith(".") and unsigned.count(".") == 2
    assert bearer_claims(unsigned)["tid"] == CHILD_ID


# -- $batch --------------------------------------------------------------------------------


async def test_a_batch_is_answered_by_the_tenant_of_its_envelope(
    tenant: SimulatedTenant, child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_profile("home")
    child.add_profile("away")
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/education/synchronizationProfiles/away"},
            {
                "id": "2",
                "method": "GET",
                "url": "/education/synchronizationProfiles/home",
                # A sub-request's own token does not change whose batch it is.
                "headers": token(DEFAULT_TENANT_ID),
            },
        ]
    }

    response = await client.post(BATCH, json=batch, headers=token(CHILD_ID))

    assert response.status_code == 200
    answers = {answer["id"]: answer for answer in response.json()["responses"]}
    assert answers["1"]["status"] == 200
    assert answers["1"]["body"]["id"] == "away"
    assert answers["2"]["status"] == 404
    assert [(r.batched, r.tenant_id) for r in child.requests] == [
        (False, CHILD_ID),
        (True, CHILD_ID),
        (True, CHILD_ID),
    ]
    assert (child.request_count, child.subrequest_count) == (1, 2)
    assert tenant.requests == [] and tenant.subrequest_count == 0


async def test_a_batch_for_an_unconsented_tenant_is_refused_whole(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    unconsented = tenant.add_tenant(OTHER_ID, consented=False)
    batch = {
        "requests": [{"id": "1", "method": "GET", "url": "/education/synchronizationProfiles"}]
    }

    response = await client.post(BATCH, json=batch, headers=token(OTHER_ID))

    assert response.status_code == 401
    assert "AADSTS65001" in response.json()["error"]["message"]
    assert unconsented.subrequest_count == 0


# -- steering a child ----------------------------------------------------------------------


async def test_faults_budget_and_job_actions_are_a_tenants_own(
    tenant: SimulatedTenant, child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    child.add_fault(PROFILES, status=503, times=None)
    tenant.rate_limit = 0  # the parent throttles everything; the child has its own budget
    job_id = child.add_job(SP_ID, "scim.child.job")

    child_answer = await client.get(PROFILES, headers=token(CHILD_ID))
    parent_answer = await client.get(PROFILES)
    action = await client.post(f"{jobs_path(SP_ID)}/{job_id}/pause", headers=token(CHILD_ID))

    assert child_answer.status_code == 503
    assert parent_answer.status_code == 429
    assert (child.throttled_count, tenant.throttled_count) == (0, 1)
    assert tenant.faults == []
    assert action.status_code == 204
    assert [entry["action"] for entry in child.job_actions] == ["pause"]
    assert tenant.job_actions == []
    assert child.get_job(SP_ID, job_id)["status"]["code"] == "Paused"


async def test_a_child_is_served_by_its_parents_server_and_has_its_organization(
    tenant: SimulatedTenant, child: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    organization = await client.get("/v1.0/organization", headers=token(CHILD_ID))
    home = await client.get("/v1.0/organization")

    assert child.url == tenant.url
    with pytest.raises(RuntimeError, match="served by its parent"):
        await child.start()
    assert organization.json()["value"][0]["id"] == CHILD_ID
    assert organization.json()["value"][0]["displayName"] == "Northwind Academy Trust"
    assert organization.json()["value"][0]["verifiedDomains"][0]["name"] == (
        "northwindacademytrust.onmicrosoft.com"
    )
    # The parent's organization keeps the id it always had, which is its tenant id.
    assert home.json()["value"][0]["id"] == DEFAULT_TENANT_ID
    assert str(uuid.uuid5(ID_NAMESPACE, "organization")) == DEFAULT_TENANT_ID
    assert home.json()["value"][0]["displayName"] == "Contoso School District"


async def test_a_tenant_id_given_to_the_constructor_is_its_tid_and_organization_id() -> None:
    async with SimulatedTenant(tenant_id=OTHER_ID) as running:
        running.add_profile("mine")
        async with httpx.AsyncClient(base_url=running.url, trust_env=False) as http:
            mine = await http.get(PROFILES, headers=token(OTHER_ID))
            default = await http.get(PROFILES, headers=token(DEFAULT_TENANT_ID))

    assert listed_ids(mine) == ["mine"]
    assert default.status_code == 401
    assert running.organization["id"] == OTHER_ID
    assert running.requests[0].tenant_id == OTHER_ID


# -- control API ---------------------------------------------------------------------------


async def test_the_control_api_adds_tenants_and_steers_the_one_named(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    added = await client.post(
        "/_tenant/tenants", json={"tenantId": CHILD_ID, "displayName": "Northwind"}
    )
    again = await client.post("/_tenant/tenants", json={"tenantId": CHILD_ID})
    steer = {"tenantId": CHILD_ID}
    posted = await client.post("/_tenant/profiles", params=steer, json={"id": "away"})
    await client.get(PROFILES, headers=token(CHILD_ID))
    await client.post("/_tenant/faults", params=steer, json={"path": ".*/organization"})

    child_profiles = (await client.get("/_tenant/profiles", params=steer)).json()["value"]
    home_profiles = (await client.get("/_tenant/profiles")).json()["value"]
    child_requests = (await client.get("/_tenant/requests", params=steer)).json()["value"]
    counters = (await client.get("/_tenant/counters", params=steer)).json()
    home_counters = (await client.get("/_tenant/counters")).json()
    unknown = await client.get("/_tenant/profiles", params={"tenantId": OTHER_ID})

    assert added.status_code == 201
    assert added.json() == {
        "tenantId": CHILD_ID,
        "displayName": "Northwind",
        "consented": True,
        "isParent": False,
    }
    assert again.status_code == 409
    assert posted.status_code == 201
    assert [profile["profile"]["id"] for profile in child_profiles] == ["away"]
    assert home_profiles == []
    assert [(r["path"], r["tenantId"]) for r in child_requests] == [(PROFILES, CHILD_ID)]
    assert counters["requestCount"] == 1 and home_counters["requestCount"] == 0
    assert [fault.path for fault in tenant.tenants[CHILD_ID].faults] == [".*/organization"]
    assert tenant.faults == []
    assert unknown.status_code == 404
    assert OTHER_ID in unknown.json()["error"]["message"]


async def test_the_control_api_gives_and_withdraws_consent(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    await client.post("/_tenant/tenants", json={"tenantId": OTHER_ID, "consented": False})
    refused = await client.get(PROFILES, headers=token(OTHER_ID))
    consent = await client.patch(f"/_tenant/tenants/{OTHER_ID}", json={"consented": True})
    served = await client.get(PROFILES, headers=token(OTHER_ID))
    listing = (await client.get("/_tenant/tenants")).json()["value"]
    parent = await client.patch(f"/_tenant/tenants/{DEFAULT_TENANT_ID}", json={"consented": False})
    unknown = await client.patch(f"/_tenant/tenants/{CHILD_ID}", json={"consented": True})
    bad = await client.post("/_tenant/tenants", json={"tenantId": CHILD_ID, "colour": "red"})

    assert refused.status_code == 401
    assert consent.status_code == 200 and consent.json()["consented"] is True
    assert served.status_code == 200
    assert [(t["tenantId"], t["isParent"], t["consented"]) for t in listing] == [
        (DEFAULT_TENANT_ID, True, True),
        (OTHER_ID, False, True),
    ]
    assert listing[1]["displayName"] == f"Tenant {OTHER_ID[:8]}"
    assert parent.status_code == 400
    assert unknown.status_code == 404
    assert bad.status_code == 400
    assert list(tenant.tenants) == [OTHER_ID]


# -- command line --------------------------------------------------------------------------


def read_announcements(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(2)]
    return dict(line.strip().partition("=")[::2] for line in lines)


def test_command_line_serves_the_demo_tenants() -> None:
    with graph_tenant_process("--port", "0", "--demo-tenants") as process:
        announced = read_announcements(process)
        with httpx.Client(base_url=announced["GRAPH_TENANT_URL"], timeout=5) as http:
            school = http.get(PROFILES, headers=token(DEMO_SCHOOL_TENANT_ID)).json()["value"]
            runs = http.get(
                "/beta/external/industryData/runs", headers=token(DEMO_SCHOOL_TENANT_ID)
            )
            organization = http.get("/v1.0/organization", headers=token(DEMO_SCHOOL_TENANT_ID))
            statuses = [
                http.get(
                    f"{PROFILES}/{p['id']}/profileStatus", headers=token(DEMO_SCHOOL_TENANT_ID)
                )
                for p in school
            ]
            refused = http.get(PROFILES, headers=token(DEMO_UNCONSENTED_TENANT_ID))
            home = http.get(PROFILES).json()["value"]
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", announced["GRAPH_TENANT_URL"])
    assert announced["GRAPH_TENANT_IDS"] == (
        f"{DEFAULT_TENANT_ID},{DEMO_SCHOOL_TENANT_ID},{DEMO_UNCONSENTED_TENANT_ID}"
    )
    assert stdout == ""
    assert home == []
    health = {status.json()["status"] for status in statuses}
    assert "success" in health and health & {"error", "quarantined", "validationError"}
    run_statuses = {run["status"] for run in runs.json()["value"]}
    assert "completed" in run_statuses and len(run_statuses) > 1
    assert organization.json()["value"][0]["displayName"] == DEMO_SCHOOL_TENANT_NAME
    assert refused.status_code == 401
    assert "AADSTS65001" in refused.json()["error"]["message"]
