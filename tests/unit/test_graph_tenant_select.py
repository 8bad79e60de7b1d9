"""The simulated tenant checks ``$select`` as Graph does: a property that the resource's type
lacks in the version asked is refused with Graph's 400, top-level and in ``$batch`` alike, and
what each version's type has comes from Microsoft's SDK models (msgraph-sdk for v1.0,
msgraph-beta-sdk for beta). Every ``$select`` the app sends is checked against it here."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.sources.directory_synchronization.const import GRAPH_VERSION, ORGANIZATION_FIELDS
from tools.graph_tenant import SimulatedTenant
from tools.graph_tenant.selection import graph_version, other_versions_only, type_properties

PASSWORD_SYNC = "onPremisesLastPasswordSyncDateTime"
PASSWORD_SYNC_MISSING = (
    "Could not find a property named 'onPremisesLastPasswordSyncDateTime' on type "
    "'microsoft.graph.organization'."
)
SP = "4f0c5b52-1f7a-4d59-9a53-0b1f0e7d2a11"


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant() as running:
        running.add_service_principal(SP, display_name="Canvas LMS")
        yield running


@pytest.fixture
async def client(tenant: SimulatedTenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tenant.url, timeout=5, trust_env=False) as http:
        yield http


def assert_graph_bad_request(body: dict[str, Any], message: str) -> None:
    error = body["error"]
    assert (error["code"], error["message"]) == ("BadRequest", message)
    assert error["innerError"]["request-id"]
    assert error["innerError"]["date"]


# -- what each version's types have -----------------------------------------------------------


def test_properties_come_from_each_versions_sdk_model() -> None:
    v1 = type_properties("v1.0", "organization")
    beta = type_properties("beta", "organization")

    assert PASSWORD_SYNC.lower() not in v1  # v1.0's organization has no such property
    assert beta[PASSWORD_SYNC.lower()] == PASSWORD_SYNC
    assert {"id", "deletedDateTime", "displayName", "onPremisesLastSyncDateTime"} <= set(
        v1.values()
    )  # inherited (entity, directoryObject) and its own
    assert not any(name.startswith("@") for name in v1.values())
    assert PASSWORD_SYNC in other_versions_only("v1.0", "organization")
    assert PASSWORD_SYNC not in other_versions_only("beta", "organization")
    assert {"appId", "displayName"} <= set(type_properties("v1.0", "servicePrincipal").values())
    run = type_properties("beta", "industryData.industryDataRun")  # a namespaced type
    assert {"status", "startDateTime", "blockingError"} <= set(run.values())
    assert graph_version("/beta/organization") == "beta"
    assert graph_version("/v1.0/servicePrincipals/x") == "v1.0"


@pytest.mark.parametrize(
    ("version", "type_name", "model"),
    [
        ("v1.0", "organization", "msgraph.generated.models.organization.Organization"),
        ("beta", "organization", "msgraph_beta.generated.models.organization.Organization"),
        (
            "v1.0",
            "servicePrincipal",
            "msgraph.generated.models.service_principal.ServicePrincipal",
        ),
        (
            "beta",
            "servicePrincipal",
            "msgraph_beta.generated.models.service_principal.ServicePrincipal",
        ),
        (
            "beta",
            "industryData.industryDataRun",
            "msgraph_beta.generated.models.industry_data.industry_data_run.IndustryDataRun",
        ),
    ],
)
def test_properties_read_from_the_models_source_are_what_the_model_deserializes(
    version: str, type_name: str, model: str
) -> None:
    module, _, name = model.rpartition(".")
    deserialized = getattr(importlib.import_module(module), name)().get_field_deserializers()

    expected = {field for field in deserialized if not field.startswith("@")}
    assert set(type_properties(version, type_name).values()) == expected


# -- the organization ---------------------------------------------------------------------------


async def test_a_v1_select_of_the_beta_only_password_sync_is_refused_as_graph_does(
    client: httpx.AsyncClient,
) -> None:
    select = ",".join(ORGANIZATION_FIELDS)
    assert PASSWORD_SYNC in ORGANIZATION_FIELDS

    v1 = await client.get("/v1.0/organization", params={"$select": select})
    beta = await client.get("/beta/organization", params={"$select": select})
    spelled = await client.get("/v1.0/organization", params={"$select": "ID,DisplayName"})

    assert v1.status_code == 400
    assert v1.headers["Content-Type"] == "application/json"
    assert_graph_bad_request(v1.json(), PASSWORD_SYNC_MISSING)
    assert beta.status_code == 200
    assert list(beta.json()["value"][0]) == list(ORGANIZATION_FIELDS)
    assert spelled.status_code == 200
    assert list(spelled.json()["value"][0]) == ["id", "displayName"]


async def test_the_apps_organization_select_is_one_its_version_has(
    client: httpx.AsyncClient,
) -> None:
    select = ",".join(ORGANIZATION_FIELDS)

    answer = await client.get(f"/{GRAPH_VERSION}/organization", params={"$select": select})

    assert answer.status_code == 200, answer.text
    assert set(ORGANIZATION_FIELDS) <= set(type_properties(GRAPH_VERSION, "organization").values())


# -- service principals -------------------------------------------------------------------------


async def test_the_apps_service_principal_selects_are_answered(client: httpx.AsyncClient) -> None:
    listing = await client.get(
        "/v1.0/servicePrincipals", params={"$select": "id,appId,displayName", "$top": "999"}
    )
    one = await client.get(f"/v1.0/servicePrincipals/{SP}", params={"$select": "id,displayName"})

    assert listing.status_code == 200, listing.text
    assert set(listing.json()["value"][0]) == {"id", "appId", "displayName"}
    assert one.json()["displayName"] == "Canvas LMS"


async def test_a_service_principal_property_only_beta_has_is_refused_on_v1(
    client: httpx.AsyncClient,
) -> None:
    beta_only = sorted(other_versions_only("v1.0", "servicePrincipal"))
    assert beta_only, "beta's servicePrincipal has properties v1.0's lacks"

    refused = await client.get("/v1.0/servicePrincipals", params={"$select": f"id,{beta_only[0]}"})
    stored = await client.get("/v1.0/servicePrincipals", params={"$select": "id,tags"})

    assert refused.status_code == 400
    assert_graph_bad_request(
        refused.json(),
        f"Could not find a property named '{beta_only[0]}' on type "
        "'microsoft.graph.servicePrincipal'.",
    )
    assert stored.status_code == 200  # a v1.0 property the tenant stores


# -- $batch ---------------------------------------------------------------------------------------


async def test_batched_sub_requests_are_checked_like_top_level_ones(
    client: httpx.AsyncClient,
) -> None:
    select = ",".join(ORGANIZATION_FIELDS)
    requests = [
        {"id": "1", "method": "GET", "url": f"/organization?$select={select}"},
        {"id": "2", "method": "GET", "url": f"/servicePrincipals/{SP}?%24select=id,displayName"},
        {"id": "3", "method": "GET", "url": f"/servicePrincipals/{SP}?$select=id,jobs"},
    ]

    v1 = await client.post("/v1.0/$batch", json={"requests": requests})
    beta = await client.post("/beta/$batch", json={"requests": requests[:1]})

    assert v1.status_code == 200
    first, second, third = v1.json()["responses"]
    assert first["status"] == 400
    assert_graph_bad_request(first["body"], PASSWORD_SYNC_MISSING)
    assert second["status"] == 200
    assert second["body"]["displayName"] == "Canvas LMS"
    assert third["status"] == 400
    assert "'jobs'" in third["body"]["error"]["message"]
    (answer,) = beta.json()["responses"]
    assert answer["status"] == 200
    assert answer["body"]["value"][0][PASSWORD_SYNC] is None
