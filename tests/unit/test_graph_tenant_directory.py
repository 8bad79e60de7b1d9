"""Tests of the simulated tenant's directory: the listing of service principals (how apps find
the provisioning jobs), principals whose jobs are refused, and the organization with its
on-premises sync times. Over real HTTP against an in-process tenant, like test_graph_tenant.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.graph_tenant import (
    DEMO_CLOUD_SYNC_SERVICE_PRINCIPAL_ID,
    DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID,
    DEMO_DROPBOX_SERVICE_PRINCIPAL_ID,
    DEMO_IDLE_SERVICE_PRINCIPALS,
    DEMO_JOB_SERVICE_PRINCIPAL_IDS,
    DEMO_REFUSED_SERVICE_PRINCIPAL_ID,
    DEMO_STALLED_SERVICE_PRINCIPAL_ID,
    SimulatedTenant,
    populate_demo,
    populate_service_principals,
)
from tools.graph_tenant.common import ID_NAMESPACE

REPO_ROOT = Path(__file__).resolve().parents[2]
PRINCIPALS = "/v1.0/servicePrincipals"
ORGANIZATION = "/v1.0/organization"
BETA_ORGANIZATION = "/beta/organization"
SECONDS_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
REFUSED = {
    "code": "Authorization_RequestDenied",
    "message": "Insufficient privileges to complete the operation.",
}


@pytest.fixture
async def tenant() -> AsyncIterator[SimulatedTenant]:
    async with SimulatedTenant(page_size=2) as running:
        yield running


@pytest.fixture
async def client(tenant: SimulatedTenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tenant.url, timeout=5, trust_env=False) as http:
        yield http


def jobs_path(sp_id: str) -> str:
    return f"{PRINCIPALS}/{sp_id}/synchronization/jobs"


async def all_pages(client: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    pages = [(await client.get(path, params=params)).json()]
    while "@odata.nextLink" in pages[-1]:
        pages.append((await client.get(pages[-1]["@odata.nextLink"])).json())
    return pages


def minutes_since(timestamp: str) -> float:
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (time.time() - moment.timestamp()) / 60


# -- listing service principals --------------------------------------------------------------


async def test_every_principal_is_listed_with_selected_properties_and_paged(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp-a", "job1")
    tenant.add_service_principal("sp-b", display_name="Zoom", app_id="app-b")
    tenant.add_service_principal("sp-c")
    tenant.add_job("sp-c", "job2")

    pages = await all_pages(client, PRINCIPALS, **{"$select": "id,appId,displayName"})
    unselected = (await client.get(PRINCIPALS, params={"$top": "3"})).json()
    one_select = (await client.get(PRINCIPALS, params={"$select": "DisplayName"})).json()

    assert len(pages) == 2
    assert pages[0]["@odata.context"] == (
        f"{tenant.url}/v1.0/$metadata#servicePrincipals(id,appId,displayName)"
    )
    assert pages[0]["@odata.nextLink"].startswith(
        f"{tenant.url}{PRINCIPALS}?$select=id,appId,displayName&$skiptoken="
    )
    listed = [principal for page in pages for principal in page["value"]]
    assert [principal["id"] for principal in listed] == ["sp-a", "sp-b", "sp-c"]
    assert all(set(principal) == {"id", "appId", "displayName"} for principal in listed)
    assert listed[1] == {"id": "sp-b", "appId": "app-b", "displayName": "Zoom"}
    assert listed[0]["displayName"] == "Enterprise app sp-a"
    assert listed[0]["appId"] == str(uuid.uuid5(ID_NAMESPACE, "appId/sp-a"))
    assert unselected["@odata.context"] == f"{tenant.url}/v1.0/$metadata#servicePrincipals"
    assert len(unselected["value"]) == 3
    assert "@odata.nextLink" not in unselected
    assert set(unselected["value"][0]) == {"id", "appId", "displayName", "servicePrincipalType"}
    assert unselected["value"][0]["servicePrincipalType"] == "Application"
    # Graph always sends the id, and spells properties its own way whatever $select wrote.
    assert one_select["value"][0] == {"id": "sp-a", "displayName": "Enterprise app sp-a"}
    assert one_select["@odata.context"].endswith("#servicePrincipals(displayName)")


async def test_unknown_selected_property_and_bad_top_are_bad_requests(
    client: httpx.AsyncClient,
) -> None:
    unknown = await client.get(PRINCIPALS, params={"$select": "id,jobs"})
    bad_top = await client.get(PRINCIPALS, params={"$top": "0"})

    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == (
        "Could not find a property named 'jobs' on type 'microsoft.graph.servicePrincipal'."
    )
    assert bad_top.status_code == 400


async def test_one_principal_is_read_with_select_and_unknown_ones_are_404(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_service_principal("sp-a", display_name="Canvas LMS")

    selected = await client.get(f"{PRINCIPALS}/sp-a", params={"$select": "id,displayName"})
    whole = (await client.get(f"{PRINCIPALS}/sp-a")).json()
    missing = await client.get(f"{PRINCIPALS}/nope")

    assert selected.json() == {
        "@odata.context": f"{tenant.url}/v1.0/$metadata#servicePrincipals(id,displayName)/$entity",
        "id": "sp-a",
        "displayName": "Canvas LMS",
    }
    assert whole["servicePrincipalType"] == "Application"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


async def test_adding_a_known_principal_changes_its_attributes_and_keeps_its_jobs(
    tenant: SimulatedTenant,
) -> None:
    tenant.add_job("sp-a", "job1")
    tenant.add_service_principal("sp-a", display_name="Dropbox Business")
    tenant.add_service_principal("sp-a", app_id="app-1")

    attributes = tenant.service_principal_attributes["sp-a"]
    assert attributes["displayName"] == "Dropbox Business"
    assert attributes["appId"] == "app-1"
    assert list(tenant.service_principals["sp-a"]) == ["job1"]
    tenant.remove_service_principal("sp-a")
    assert tenant.service_principal_attributes == {}


async def test_thousands_of_generated_principals_are_paged_deterministically() -> None:
    async with SimulatedTenant() as tenant:
        ids = populate_service_principals(tenant, 2500, seed=7)
        async with httpx.AsyncClient(base_url=tenant.url, trust_env=False) as client:
            pages = await all_pages(
                client, PRINCIPALS, **{"$select": "id,displayName", "$top": "999"}
            )

    assert ids == populate_service_principals(SimulatedTenant(), 2500, seed=7)
    assert len(set(ids)) == 2500
    assert [len(page["value"]) for page in pages] == [999, 999, 502]
    assert [p["id"] for page in pages for p in page["value"]] == ids
    assert pages[0]["value"][0]["displayName"] == "Microsoft Teams"
    assert tenant.service_principals[ids[0]] == {}  # no jobs


# -- refused jobs ----------------------------------------------------------------------------


async def test_refused_principal_answers_403_for_its_jobs_alone_and_in_batches(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp-a", "job1")
    tenant.add_job("sp-b", "job2")
    tenant.refuse_jobs("sp-a")

    listing = await client.get(jobs_path("sp-a"))
    single = await client.get(f"{jobs_path('sp-a')}/job1")
    other = await client.get(jobs_path("sp-b"))
    principals = (await client.get(PRINCIPALS, params={"$top": "10"})).json()["value"]
    batch = await client.post(
        "/v1.0/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/servicePrincipals/sp-a/synchronization/jobs"},
                {"id": "2", "method": "GET", "url": "/servicePrincipals/sp-b/synchronization/jobs"},
            ]
        },
    )
    tenant.allow_jobs("sp-a")
    allowed = await client.get(jobs_path("sp-a"))

    for response in (listing, single):
        assert response.status_code == 403
        error = response.json()["error"]
        assert {"code": error["code"], "message": error["message"]} == REFUSED
        assert error["innerError"]["request-id"]
    assert other.status_code == 200
    assert [p["id"] for p in principals] == ["sp-a", "sp-b"]
    answers = batch.json()["responses"]
    assert [answer["status"] for answer in answers] == [403, 200]
    assert answers[0]["body"]["error"]["code"] == "Authorization_RequestDenied"
    assert allowed.status_code == 200
    assert [job["id"] for job in allowed.json()["value"]] == ["job1"]


async def test_refusals_take_another_status_and_need_a_known_principal(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.add_job("sp-a", "job1")
    tenant.refuse_jobs("sp-a", status=401)

    response = await client.get(jobs_path("sp-a"))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    with pytest.raises(KeyError):
        tenant.refuse_jobs("nope")
    with pytest.raises(ValueError, match="status"):
        tenant.refuse_jobs("sp-a", status=200)
    tenant.remove_service_principal("sp-a")
    tenant.add_job("sp-a", "job1")
    assert (await client.get(jobs_path("sp-a"))).status_code == 200  # a new principal


async def test_control_api_names_principals_and_refuses_their_jobs(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    created = await client.put(
        "/_tenant/servicePrincipals/sp-a", json={"displayName": "ServiceNow", "appId": "app-a"}
    )
    renamed = await client.put("/_tenant/servicePrincipals/sp-a", json={"displayName": "SNOW"})
    bad_name = await client.put("/_tenant/servicePrincipals/sp-a", json={"displayName": ""})
    unknown_key = await client.put("/_tenant/servicePrincipals/sp-a", json={"tags": []})
    tenant.add_job("sp-a", "job1")
    refused = await client.post("/_tenant/servicePrincipals/sp-a/refuseJobs")
    listed = (await client.get("/_tenant/servicePrincipals")).json()["value"]
    graph = await client.get(jobs_path("sp-a"))
    allowed = await client.delete("/_tenant/servicePrincipals/sp-a/refuseJobs")
    custom = await client.post(
        "/_tenant/servicePrincipals/sp-a/refuseJobs", json={"status": 404, "code": "Gone"}
    )
    graph_custom = await client.get(jobs_path("sp-a"))
    bad_status = await client.post(
        "/_tenant/servicePrincipals/sp-a/refuseJobs", json={"status": "x"}
    )
    missing = await client.post("/_tenant/servicePrincipals/nope/refuseJobs")
    missing_allow = await client.delete("/_tenant/servicePrincipals/nope/refuseJobs")

    assert created.status_code == 201
    assert created.json() == {
        "id": "sp-a",
        "appId": "app-a",
        "displayName": "ServiceNow",
        "servicePrincipalType": "Application",
        "refuseJobs": None,
        "jobs": [],
    }
    assert renamed.status_code == 200
    assert renamed.json()["displayName"] == "SNOW"
    assert renamed.json()["appId"] == "app-a"
    assert bad_name.status_code == 400
    assert unknown_key.status_code == 400
    assert refused.status_code == 204
    assert listed[0]["refuseJobs"] == {"status": 403, **REFUSED}
    assert graph.status_code == 403
    assert allowed.status_code == 204
    assert custom.status_code == 204
    assert graph_custom.status_code == 404
    assert graph_custom.json()["error"]["code"] == "Gone"
    assert bad_status.status_code == 400
    assert missing.status_code == 404
    assert missing_allow.status_code == 404


# -- organization ----------------------------------------------------------------------------


async def test_default_organization_is_cloud_only_and_honours_select(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    select = "id,displayName,onPremisesSyncEnabled,onPremisesLastSyncDateTime"
    whole = (await client.get(ORGANIZATION)).json()
    selected = (await client.get(ORGANIZATION, params={"$select": select})).json()
    unknown = await client.get(ORGANIZATION, params={"$select": "id,licence"})

    assert whole["@odata.context"] == f"{tenant.url}/v1.0/$metadata#organization"
    assert len(whole["value"]) == 1
    organization = whole["value"][0]
    assert organization["id"] == str(uuid.uuid5(ID_NAMESPACE, "organization"))
    assert organization["displayName"] == "Contoso School District"
    assert organization["onPremisesSyncEnabled"] is None
    assert organization["onPremisesLastSyncDateTime"] is None
    assert "onPremisesLastPasswordSyncDateTime" not in organization  # beta alone has it
    assert organization["verifiedDomains"]
    assert selected == {
        "@odata.context": f"{tenant.url}/v1.0/$metadata#organization({select})",
        "value": [
            {
                "id": organization["id"],
                "displayName": "Contoso School District",
                "onPremisesSyncEnabled": None,
                "onPremisesLastSyncDateTime": None,
            }
        ],
    }
    assert unknown.status_code == 400
    assert "'licence'" in unknown.json()["error"]["message"]


async def test_beta_serves_the_organization_with_its_last_password_sync(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    select = "id,onPremisesLastPasswordSyncDateTime"
    whole = (await client.get(BETA_ORGANIZATION)).json()
    selected = (await client.get(BETA_ORGANIZATION, params={"$select": select})).json()

    assert whole["@odata.context"] == f"{tenant.url}/beta/$metadata#organization"
    (organization,) = whole["value"]
    assert organization["onPremisesLastPasswordSyncDateTime"] is None
    assert organization["displayName"] == "Contoso School District"
    assert selected == {
        "@odata.context": f"{tenant.url}/beta/$metadata#organization({select})",
        "value": [{"id": organization["id"], "onPremisesLastPasswordSyncDateTime": None}],
    }


async def test_stale_directory_sync_and_merged_fields(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    fields = {"displayName": "Fabrikam Schools", "tags": ["a"]}
    tenant.set_organization(**fields)
    fields["tags"].append("b")  # the tenant keeps its own copy
    tenant.make_directory_sync_stale(180)
    organization = (await client.get(BETA_ORGANIZATION)).json()["value"][0]
    snapshot = tenant.organization
    snapshot["displayName"] = "tampered"

    assert organization["displayName"] == "Fabrikam Schools"
    assert organization["tags"] == ["a"]
    assert organization["onPremisesSyncEnabled"] is True
    for name in ("onPremisesLastSyncDateTime", "onPremisesLastPasswordSyncDateTime"):
        assert SECONDS_TIMESTAMP.fullmatch(organization[name])
        assert 179.9 <= minutes_since(organization[name]) <= 180.1
    assert tenant.organization["displayName"] == "Fabrikam Schools"


async def test_control_api_reads_patches_and_stales_the_organization(
    client: httpx.AsyncClient,
) -> None:
    read = (await client.get("/_tenant/organization")).json()
    patched = await client.patch("/_tenant/organization", json={"onPremisesSyncEnabled": True})
    stale = await client.post("/_tenant/organization/stale", json={"minutesAgo": 30})
    default = await client.post("/_tenant/organization/stale")
    bad = await client.post("/_tenant/organization/stale", json={"minutesAgo": "soon"})
    negative = await client.post("/_tenant/organization/stale", json={"minutesAgo": -1})
    unknown = await client.post("/_tenant/organization/stale", json={"hoursAgo": 1})

    assert read["displayName"] == "Contoso School District"
    assert patched.json()["onPremisesSyncEnabled"] is True
    assert patched.json()["onPremisesLastSyncDateTime"] is None
    assert 29.9 <= minutes_since(stale.json()["onPremisesLastSyncDateTime"]) <= 30.1
    assert 179.9 <= minutes_since(default.json()["onPremisesLastPasswordSyncDateTime"]) <= 180.1
    assert {bad.status_code, negative.status_code, unknown.status_code} == {400}


async def test_organization_can_be_refused(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    tenant.refuse_source("organization", status=403, code="Authorization_RequestDenied")

    refused = await client.get(ORGANIZATION, params={"$select": "id"})
    refused_beta = await client.get(BETA_ORGANIZATION)

    assert refused.status_code == refused_beta.status_code == 403
    assert "organization" in tenant.sources


# -- demo ------------------------------------------------------------------------------------


async def test_demo_has_hundreds_of_principals_every_kind_of_job_and_a_stalling_sync(
    tenant: SimulatedTenant, client: httpx.AsyncClient
) -> None:
    started = time.time()
    populate_demo(tenant, random.Random(1))
    tenant.page_size = 100

    pages = await all_pages(client, PRINCIPALS, **{"$select": "id,appId,displayName"})
    refused = await client.get(jobs_path(DEMO_REFUSED_SERVICE_PRINCIPAL_ID))
    organization = (await client.get(BETA_ORGANIZATION)).json()["value"][0]

    listed = {p["id"]: p["displayName"] for page in pages for p in page["value"]}
    assert len(listed) == len(DEMO_JOB_SERVICE_PRINCIPAL_IDS) + DEMO_IDLE_SERVICE_PRINCIPALS
    assert set(DEMO_JOB_SERVICE_PRINCIPAL_IDS) <= set(listed)
    assert len(pages) == 4
    assert listed[DEMO_DROPBOX_SERVICE_PRINCIPAL_ID] == "Dropbox Business"
    assert listed[DEMO_CLOUD_SYNC_SERVICE_PRINCIPAL_ID] == "contoso.local"
    assert listed[DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID] == "Fabrikam cross-tenant sync"
    principals = tenant.service_principals
    templates = {
        sp_id: [job["templateId"] for job in principals[sp_id].values()]
        for sp_id in DEMO_JOB_SERVICE_PRINCIPAL_IDS
    }
    assert templates[DEMO_DROPBOX_SERVICE_PRINCIPAL_ID] == ["dropboxSCIM"]
    assert templates[DEMO_CLOUD_SYNC_SERVICE_PRINCIPAL_ID] == ["AD2AADProvisioning"]
    assert templates[DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID] == ["Azure2Azure"]
    assert templates[DEMO_STALLED_SERVICE_PRINCIPAL_ID] == ["serviceNowOutDelta"]
    (cross_tenant,) = principals[DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID].values()
    assert cross_tenant["status"]["code"] == "Active"
    assert cross_tenant["status"]["lastExecution"]["state"] == "EntryLevelErrors"
    (stalled,) = principals[DEMO_STALLED_SERVICE_PRINCIPAL_ID].values()
    assert stalled["status"]["code"] == "Active"
    for name in ("lastExecution", "lastSuccessfulExecution"):
        execution = stalled["status"][name]
        assert execution["state"] == "Succeeded"
        ended = datetime.strptime(execution["timeEnded"][:19], "%Y-%m-%dT%H:%M:%S")
        hours = (started - ended.replace(tzinfo=UTC).timestamp()) / 3600
        assert 25.9 <= hours <= 26.1
    assert refused.status_code == 403
    assert organization["onPremisesSyncEnabled"] is True
    assert 116.9 <= minutes_since(organization["onPremisesLastSyncDateTime"]) <= 117.2
    assert (
        organization["onPremisesLastPasswordSyncDateTime"]
        == organization["onPremisesLastSyncDateTime"]
    )


def test_command_line_generates_principals_without_jobs() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.graph_tenant", "--port", "0", "--service-principals", "5"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().partition("=")[2]
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as http:
            listed = http.get(PRINCIPALS, params={"$select": "id"}).json()["value"]
        process.send_signal(signal.SIGTERM)
        rest, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr
    assert len(listed) == 5
    assert rest == ""  # no principal has jobs: none is announced
