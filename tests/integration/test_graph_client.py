"""The Graph client over the SDK's adapter and middleware, against the simulated tenant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiohttp import web
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.authentication import AuthenticationProvider
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from shared.graph import GraphClient, GraphError
from shared.settings import Settings
from tests.conftest import free_port


class NoIdentity(AuthenticationProvider):
    """What azure-identity does where no managed identity or login exists."""

    async def authenticate_request(
        self, request: Any, additional_authentication_context: Any = None
    ) -> None:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")


def settings_for(tenant: Any) -> Settings:
    return Settings.from_env(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "GRAPH_BASE_URL": tenant.url,
            "GRAPH_AUTH": "none",
            "GRAPH_TIMEOUT_SECONDS": "2",
        }
    )


async def test_listing_follows_next_links(tenant: Any) -> None:
    tenant.page_size = 2
    for index in range(5):
        tenant.add_profile(f"p{index}")
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        pages = [page async for page in graph.list_synchronization_profiles()]
    assert [[item["id"] for item in page] for page in pages] == [["p0", "p1"], ["p2", "p3"], ["p4"]]


async def test_graph_errors_carry_graphs_code_and_message(tenant: Any) -> None:
    tenant.refuse_source("education", status=403, code="Forbidden", message="Missing role")
    async with GraphClient.from_settings(settings_for(tenant)) as graph:
        with pytest.raises(GraphError) as raised:
            await graph.get_profile_status("p1")
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
        status = await graph.get_profile_status("p1")
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
            await GraphClient(adapter, http_client).get_profile_status("p1")
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
            Settings.from_env(
                {
                    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                    "GRAPH_BASE_URL": f"http://127.0.0.1:{port}",
                    "GRAPH_AUTH": "none",
                }
            )
        )
        pages: list[Any] = []

        async def read_every_page() -> None:
            async for page in graph.list_synchronization_profiles():
                pages.append(page)

        async with graph:
            with pytest.raises(GraphError) as raised:
                await read_every_page()
        assert len(pages) == 2  # the first page, the page its link names, then the repeat
        assert raised.value.code == "invalidResponse"
    finally:
        await runner.cleanup()
