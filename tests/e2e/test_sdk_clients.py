"""The app's routes read by Microsoft's own SDKs, as a caller would: msgraph-sdk's and
msgraph-beta-sdk's GraphServiceClient with their base URL set to the app's ``/api`` (served by
the local Functions host), the function key sent as a header by the HTTP client they are
given, and every answer deserialized into the SDKs' models.

Behind the host, a demo tenant of its own (every source on, the provisioning jobs found by
discovery, so the tenant checks every ``$select`` the app sends, as Graph does). School Data
Sync's endpoints were removed from the SDKs: its profiles are read as raw requests through the
SDK's request adapter.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph import GraphServiceClient
from msgraph.generated.audit_logs.provisioning.provisioning_request_builder import (
    ProvisioningRequestBuilder,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_beta import GraphServiceClient as BetaGraphServiceClient
from msgraph_beta.graph_request_adapter import GraphRequestAdapter as BetaGraphRequestAdapter
from msgraph_core import GraphClientFactory

from shared.sources import SOURCES
from tests.support.azurite import Azurite, child_failures_fail
from tests.support.environment import clean_env
from tools.graph_tenant import DEMO_CROSS_TENANT_JOB_ID, DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID
from tools.processes import Child, free_port, storage_names

from .conftest import POLL_FUNCTION, START_TIMEOUT

pytestmark = pytest.mark.e2e

POLL_TIMEOUT = 60.0


class SdkStack(NamedTuple):
    api: str  # the app's /api, the SDKs' base URL
    function_key: str


def _start(
    name: str, argv: list[str], env: dict[str, str], logs: Path, ready: str
) -> tuple[Child, str]:
    """A child process, once it has printed a line with ``ready`` in it (and that line)."""
    child = Child(name, [sys.executable, *argv], env=env, log_dir=logs)
    try:
        with child_failures_fail():
            return child, child.wait_for_line(lambda text: ready in text, START_TIMEOUT)
    except BaseException:
        child.stop()
        raise


def _polled(host: httpx.Client, admin: httpx.Client, ready: Any) -> None:
    """Poll (through the admin API) until every source has polled once since now and
    ``ready()`` holds: the provisioning logs are read in a poll after discovery's."""
    asked = datetime.now(UTC)
    deadline = time.monotonic() + POLL_TIMEOUT
    while time.monotonic() < deadline:
        response = admin.post(f"/admin/functions/{POLL_FUNCTION}", json={"input": ""})
        assert response.status_code == 202, response.text
        time.sleep(1.0)
        sources = host.get("/api/health").json()["sources"]
        polls = [source.get("lastPoll") or {} for source in sources]
        done = len(polls) == len(SOURCES) and all(
            poll.get("finishedDateTime")
            and datetime.fromisoformat(poll["startedDateTime"]) >= asked
            for poll in polls
        )
        if done and ready():
            return
    pytest.fail(f"the app did not poll every source within {POLL_TIMEOUT:.0f} s", pytrace=False)


@pytest.fixture(scope="module")
def sdk_stack(e2e_logs: Path, azurite: Azurite) -> Iterator[SdkStack]:
    """A demo tenant and a host that polls all of it, polled until the cache has it all."""
    tenant, line = _start(
        "graph-sdk",
        ["-m", "tools.graph_tenant", "--port", "0", "--demo", "--demo-interval", "3600"],
        clean_env(),
        e2e_logs,
        "GRAPH_TENANT_URL=",
    )
    host: Child | None = None
    try:
        tenant_url = line.partition("=")[2].strip()
        port, key, master = free_port(), secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        env = (
            clean_env()
            | {
                "AzureWebJobsStorage": azurite.connection_string,
                "GRAPH_BASE_URL": tenant_url,
                "GRAPH_AUTH": "none",
                "GRAPH_TIMEOUT_SECONDS": "10",
                "POLL_SCHEDULE": "0 0 0 1 1 *",  # far away: polls come from the admin API only
                **storage_names(f"Sdk{uuid.uuid4().hex[:12]}"),
                "FUNCTIONS_FUNCTION_KEY": key,
                "FUNCTIONS_MASTER_KEY": master,
                "INDUSTRY_DATA_RUNS_ENABLED": "true",
                "PROVISIONING_LOGS_ENABLED": "true",
                # nextLinks must be absolute for an SDK to follow them (kiota's with_url).
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            }
        )
        host, _line = _start(
            "host-sdk",
            ["-m", "tools.local_host", "--port", str(port)],
            env,
            e2e_logs,
            "Host started",
        )
        base = f"http://127.0.0.1:{port}"
        with (
            httpx.Client(base_url=base, timeout=15) as anonymous,
            httpx.Client(base_url=base, headers={"x-functions-key": master}, timeout=15) as admin,
            httpx.Client(base_url=base, headers={"x-functions-key": key}, timeout=15) as api,
        ):
            failures = f"/api/auditLogs/provisioning?$filter=jobId eq '{DEMO_CROSS_TENANT_JOB_ID}'"
            _polled(anonymous, admin, lambda: len(api.get(failures).json().get("value", [])) > 1)
        yield SdkStack(f"{base}/api", key)
    finally:
        if host is not None:
            host.stop()
        tenant.stop()


@asynccontextmanager
async def clients(stack: SdkStack) -> AsyncIterator[tuple[GraphServiceClient, Any]]:
    """The v1.0 and the beta GraphServiceClient, aimed at the app, with the Graph middleware
    (retries, redirects, telemetry) on an HTTP client that sends the function key."""
    async with (
        httpx.AsyncClient(headers={"x-functions-key": stack.function_key}, timeout=15) as v1,
        httpx.AsyncClient(headers={"x-functions-key": stack.function_key}, timeout=15) as beta,
    ):
        v1_adapter = GraphRequestAdapter(
            AnonymousAuthenticationProvider(),
            GraphClientFactory.create_with_default_middleware(client=v1),
        )
        beta_adapter = BetaGraphRequestAdapter(
            AnonymousAuthenticationProvider(),
            GraphClientFactory.create_with_default_middleware(client=beta),
        )
        v1_adapter.base_url = beta_adapter.base_url = stack.api
        yield (
            GraphServiceClient(request_adapter=v1_adapter),
            BetaGraphServiceClient(request_adapter=beta_adapter),
        )


async def raw_get(client: GraphServiceClient, url: str) -> dict[str, Any]:
    """A GET through the SDK's request adapter (and its middleware), for what it has no
    builder for; Graph-shaped errors raise ODataError as the builders' do."""
    request = RequestInformation(Method.GET)
    request.url = url
    request.headers.try_add("Accept", "application/json")
    body = await client.request_adapter.send_primitive_async(request, "bytes", {"XXX": ODataError})
    assert body is not None
    return json.loads(body)


async def test_jobs_and_their_status_deserialize_into_the_v1_models(sdk_stack: SdkStack) -> None:
    async with clients(sdk_stack) as (graph, _beta):
        jobs_builder = graph.service_principals.by_service_principal_id(
            DEMO_CROSS_TENANT_SERVICE_PRINCIPAL_ID
        ).synchronization.jobs
        jobs = await jobs_builder.get()
        one = await jobs_builder.by_synchronization_job_id(DEMO_CROSS_TENANT_JOB_ID).get()

    assert jobs is not None and jobs.value
    (job,) = jobs.value
    assert job.id == DEMO_CROSS_TENANT_JOB_ID
    assert job.template_id == "Azure2Azure"
    assert job.status is not None and job.status.code is not None
    assert job.status.code.value == "Active"
    assert job.status.last_execution is not None
    assert job.status.last_execution.state is not None
    assert isinstance(job.status.last_execution.time_ended, datetime)
    assert one is not None and one.id == job.id
    assert one.status is not None and one.status.code == job.status.code


async def test_provisioning_logs_and_their_next_page(sdk_stack: SdkStack) -> None:
    query = ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(
        filter=f"jobId eq '{DEMO_CROSS_TENANT_JOB_ID}'", top=1
    )
    async with clients(sdk_stack) as (graph, _beta):
        first = await graph.audit_logs.provisioning.get(
            RequestConfiguration(query_parameters=query)
        )
        assert first is not None and first.odata_next_link
        second = await graph.audit_logs.provisioning.with_url(first.odata_next_link).get()

    assert first.odata_next_link.startswith(sdk_stack.api)
    assert second is not None and second.value
    (newer,), (older,) = first.value or [], second.value
    assert newer.job_id == older.job_id == DEMO_CROSS_TENANT_JOB_ID
    assert newer.id != older.id
    assert newer.activity_date_time is not None and older.activity_date_time is not None
    assert newer.activity_date_time >= older.activity_date_time  # newest first
    assert newer.provisioning_status_info is not None
    assert newer.provisioning_status_info.status is not None
    assert newer.provisioning_status_info.status.value == "failure"


async def test_the_organization_in_both_versions_models(sdk_stack: SdkStack) -> None:
    async with clients(sdk_stack) as (graph, beta):
        listed = await graph.organization.get()
        assert listed is not None and listed.value
        organization_id = listed.value[0].id
        assert organization_id is not None
        one = await graph.organization.by_organization_id(organization_id).get()
        beta_listed = await beta.organization.get()

    (organization,) = listed.value
    assert organization.on_premises_sync_enabled is True
    assert isinstance(organization.on_premises_last_sync_date_time, datetime)
    # v1.0's model has no last password hash sync: the SDK keeps what it does not know aside.
    assert "onPremisesLastPasswordSyncDateTime" in organization.additional_data
    assert one is not None and one.id == organization_id
    assert beta_listed is not None and beta_listed.value
    (read_by_beta,) = beta_listed.value
    assert isinstance(read_by_beta.on_premises_last_password_sync_date_time, datetime)
    assert (
        read_by_beta.on_premises_last_sync_date_time == organization.on_premises_last_sync_date_time
    )


async def test_runs_and_their_statistics_through_the_beta_builders(sdk_stack: SdkStack) -> None:
    async with clients(sdk_stack) as (_graph, beta):
        runs_builder = beta.external.industry_data.runs
        runs = await runs_builder.get()
        assert runs is not None and runs.value
        warned = next(
            r for r in runs.value if r.status and r.status.value == "completedWithWarnings"
        )
        assert warned.id is not None
        run_builder = runs_builder.by_industry_data_run_id(warned.id)
        one = await run_builder.get()
        # The SDK calls the OData function form: .../microsoft.graph.industryData.getStatistics()
        function = run_builder.microsoft_graph_industry_data_get_statistics
        assert function.url_template.endswith("/microsoft.graph.industryData.getStatistics()")
        statistics = await function.get()

    starts = [run.start_date_time for run in runs.value if run.start_date_time is not None]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert one is not None and one.display_name == warned.display_name
    assert isinstance(one.end_date_time, datetime)
    assert statistics is not None
    assert statistics.run_id == warned.id
    assert statistics.inbound_totals is not None
    assert statistics.inbound_totals.warnings and statistics.inbound_totals.warnings > 0
    assert statistics.activity_statistics
    activity = statistics.activity_statistics[0]
    assert type(activity).__name__ == "InboundActivityResults"  # by its @odata.type
    assert activity.display_name == "Inbound SIS flow"


async def test_profiles_through_the_sdks_adapter(sdk_stack: SdkStack) -> None:
    profiles = f"{sdk_stack.api}/education/synchronizationProfiles"
    async with clients(sdk_stack) as (graph, _beta):
        first = await raw_get(graph, f"{profiles}?$top=2")
        second = await raw_get(graph, first["@odata.nextLink"])
        status = await raw_get(graph, f"{profiles}/{first['value'][0]['id']}/profileStatus")
        with pytest.raises(ODataError) as missing:
            await raw_get(graph, f"{profiles}/{uuid.uuid4()}/profileStatus")

    assert len(first["value"]) == 2
    assert {p["id"] for p in first["value"]}.isdisjoint(p["id"] for p in second["value"])
    assert status["id"] == first["value"][0]["id"]
    assert status["status"] == first["value"][0]["profileStatus"]["status"]
    assert missing.value.response_status_code == 404
    assert missing.value.error is not None and missing.value.error.code
