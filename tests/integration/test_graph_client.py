"""The Graph client over the SDK's adapter and middleware, against the simulated tenant."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from aiohttp import web
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.authentication import AuthenticationProvider
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from shared.graph.client import GraphClient
from shared.graph.errors import GraphError
from shared.settings import Settings
from shared.sources import load_settings
from shared.sources.school_data_sync.graph import fetch_profile_pages, fetch_profile_statuses
from tools.processes import free_port


class NoIdentity(AuthenticationProvider):
    """What azure-identity does where no managed identity or login exists."""

    async def authenticate_request(
        self, request: Any, additional_authentication_context: Any = None
    ) -> None:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")


def settings_for(tenant: Any) -> Settings:
    return load_settings(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "GRAPH_BASE_URL": tenant.url,
            "GRAPH_AUTH": "none",
            "GRAPH_TIMEOUT_SECONDS": "2",
        }
    )


async def get_profile_status(graph: GraphClient, profile_id: str) -> dict[str, Any]:
    """One profileStatus, alone (the app asks for them through $batch)."""
    return await graph.get_json(
        "{+baseurl}/beta/education/synchronizationProfiles/{id}/profileStatus", {"id": profile_id}
    )


async def test_listing_follows_next_links(tenant: Any) -> None:
    tenant.max_page_size = 2  # the app asks for 999; the tenant serves 2 a page
    for index in range(5):
        tenant.add_profile(f"p{index}")
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        pages = [page async for page in fetch_profile_pages(graph)]
    assert [[item["id"] for item in page] for page in pages] == [["p0", "p1"], ["p2", "p3"], ["p4"]]


async def test_graph_errors_carry_graphs_code_and_message(tenant: Any) -> None:
    tenant.refuse_source("education", status=403, code="Forbidden", message="Missing role")
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        with pytest.raises(GraphError) as raised:
            await get_profile_status(graph, "p1")
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        403,
        "Forbidden",
        "Missing role",
    )
    assert raised.value.is_refusal


async def test_a_retry_after_is_honoured_by_the_sdk_middleware(tenant: Any) -> None:
    tenant.add_profile("p1")
    tenant.add_fault(
        "/beta/education/synchronizationProfiles/p1/profileStatus", status=503, retry_after=1
    )
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        status = await get_profile_status(graph, "p1")
    assert status["id"] == "p1"
    first, second = tenant.requests
    assert second.time - first.time >= 0.9
    assert second.headers["Retry-Attempt"] == "1"


async def test_a_missing_identity_is_a_graph_error_not_a_crash(tenant: Any) -> None:
    async with httpx.AsyncClient() as http_client:
        adapter = GraphRequestAdapter(
            NoIdentity(), GraphClientFactory.create_with_default_middleware(client=http_client)
        )
        adapter.base_url = tenant.url
        with pytest.raises(GraphError) as raised:
            await get_profile_status(GraphClient(adapter, http_client), "p1")
    assert raised.value.code == "authenticationFailed"
    assert not raised.value.is_refusal
    assert tenant.requests == []


async def test_a_next_link_that_loops_ends_the_listing_as_an_error() -> None:
    """A Graph page whose nextLink points back at itself must not page forever."""

    async def same_page(request: web.Request) -> web.Response:
        return web.json_response({"value": [{"id": "p1"}], "@odata.nextLink": str(request.url)})

    runner = web.ServerRunner(web.Server(same_page))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        graph = GraphClient.from_settings(
            load_settings(
                {
                    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                    "GRAPH_BASE_URL": f"http://127.0.0.1:{port}",
                    "GRAPH_AUTH": "none",
                }
            )
        )
        pages: list[Any] = []

        async def read_every_page() -> None:
            async for page in fetch_profile_pages(graph):
                pages.append(page)

        async with graph:
            with pytest.raises(GraphError) as raised:
                await read_every_page()
        assert len(pages) == 2  # the first page, the page its link names, then the repeat
        assert raised.value.code == "invalidResponse"
    finally:
        await runner.cleanup()


# -- JSON batching ----------------------------------------------------------------------------


async def test_statuses_come_twenty_to_a_batch_in_order(tenant: Any) -> None:
    ids = [f"p{index:02}" for index in range(45)]
    for profile_id in ids:
        tenant.add_profile(profile_id)
    tenant.set_status("p07", status="extracting")  # shown only to callers that send Prefer
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        statuses = await fetch_profile_statuses(graph, [*ids, "missing"])
    assert tenant.request_count == 3  # ceil(46 / 20) HTTP requests
    assert tenant.subrequest_count == 46
    assert [status["id"] for status in statuses[:-1]] == ids
    assert statuses[7]["status"] == "extracting"
    missing = statuses[-1]
    assert isinstance(missing, GraphError) and missing.status == 404
    assert missing.code == "ResourceNotFound"


async def test_a_throttled_sub_request_waits_its_retry_after_and_lands(tenant: Any) -> None:
    for index in range(3):
        tenant.add_profile(f"p{index}")
    tenant.add_fault(
        "/beta/education/synchronizationProfiles/p1/profileStatus",
        status=429,
        retry_after=1,
        times=1,
    )
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        statuses = await fetch_profile_statuses(graph, ["p0", "p1", "p2"])
    assert [status["id"] for status in statuses] == ["p0", "p1", "p2"]
    batches = [r for r in tenant.requests if r.path.endswith("/$batch")]
    assert len(batches) == 2  # the first batch, then one with p1 alone
    assert batches[1].time - batches[0].time >= 0.95
    retried = [r for r in tenant.requests if r.batched and r.path.endswith("/p1/profileStatus")]
    assert len(retried) == 2


async def test_a_throttling_tenant_slows_the_poll_down_instead_of_a_storm(tenant: Any) -> None:
    ids = [f"p{index:03}" for index in range(120)]
    for profile_id in ids:
        tenant.add_profile(profile_id)
    tenant.rate_limit = 40  # sub-requests per second; more get 429 + Retry-After: 1
    tenant.throttle_retry_after = 1
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        statuses = await fetch_profile_statuses(graph, ids)
    assert all(not isinstance(status, GraphError) for status in statuses)
    batches = sorted(r.time for r in tenant.requests if r.path.endswith("/$batch"))
    # Each round of retries waited the Retry-After: rounds are at least a second apart.
    rounds = [batches[0]]
    for at in batches[1:]:
        if at - rounds[-1] >= 0.5:
            rounds.append(at)
    assert len(rounds) >= 3
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(rounds))
    # Throttled sub-requests are asked again, never more than they were refused.
    assert tenant.subrequest_count == len(ids) + tenant.throttled_count


async def test_a_batch_that_times_out_falls_back_to_single_requests(tenant: Any) -> None:
    for index in range(4):
        tenant.add_profile(f"p{index}")
    tenant.add_fault(
        "/beta/education/synchronizationProfiles/p2/profileStatus",
        status=200,
        delay=3.0,
        times=None,
    )  # GRAPH_TIMEOUT_SECONDS is 2: the whole batch times out
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        statuses = await fetch_profile_statuses(graph, ["p0", "p1", "p2", "p3"])
    failed = statuses[2]
    assert isinstance(failed, GraphError) and failed.code == "timeout"
    assert [statuses[i]["id"] for i in (0, 1, 3)] == ["p0", "p1", "p3"]


async def test_a_throttled_batch_is_sent_again_not_split_into_single_requests(
    tenant: Any,
) -> None:
    for index in range(20):
        tenant.add_profile(f"p{index:02}")
    tenant.add_fault(r"/beta/\$batch", method="POST", status=429, retry_after=1, times=1)
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        statuses = await fetch_profile_statuses(graph, [f"p{index:02}" for index in range(20)])
    assert all(not isinstance(status, GraphError) for status in statuses)
    batches = [r for r in tenant.requests if r.path == "/beta/$batch"]
    assert len(batches) == 2
    assert batches[1].time - batches[0].time >= 0.95
    singles = [r for r in tenant.requests if r.path.endswith("/profileStatus") and not r.batched]
    assert singles == []
