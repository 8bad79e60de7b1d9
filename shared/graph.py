"""Microsoft Graph access: the one client factory and every Graph call the app makes.

Requests go through msgraph-sdk's request adapter and the Graph middleware pipeline (auth,
retries honouring Retry-After on 429/503/504, redirects, telemetry). They are raw JSON
requests through that adapter, checked by ``shared.models``: the education endpoints were
removed from the SDKs, and the typed v1.0 builders (``service_principals...synchronization
.jobs``) would parse a job into models that cut timestamps to microseconds and drop enum
members they do not know, where the cache must keep what Graph sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.api_client_builder import register_default_deserializer
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from shared.models import parse_json
from shared.settings import Settings

logger = logging.getLogger(__name__)

# Without this header Graph hides evolvable-enum members added after v1 (here `extracting`
# and `validating`) behind `unknownFutureValue`.
INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"

# Error bodies are parsed into ODataError (code and message) only with this map and a JSON
# parse node factory registered.
_ERROR_MAP: dict[str, Any] = {"XXX": ODataError}


class GraphError(Exception):
    """A Graph call that failed: HTTP status (None when no answer came), code and message."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status or 'no response'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def is_refusal(self) -> bool:
        """Graph refused the request itself (retired API, missing permission, bad segment):
        asking again will not help, unlike throttling, timeouts and server errors."""
        return (
            self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)
        )

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


def create_graph_adapter(settings: Settings, http_client: httpx.AsyncClient) -> GraphRequestAdapter:
    """The request adapter every Graph call goes through: the Graph middleware pipeline on
    ``http_client``, with a token from azure-identity (or none, for the simulated tenant)."""
    register_default_deserializer(JsonParseNodeFactory)
    if settings.graph_auth == "none":
        auth: Any = AnonymousAuthenticationProvider()
    else:
        from azure.identity.aio import DefaultAzureCredential
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )

        auth = AzureIdentityAuthenticationProvider(
            DefaultAzureCredential(),
            scopes=[f"{settings.graph_base_url}/.default"],
            allowed_hosts=[urlsplit(settings.graph_base_url).hostname or ""],
        )
    client = GraphClientFactory.create_with_default_middleware(client=http_client)
    adapter = GraphRequestAdapter(auth, client)
    adapter.base_url = settings.graph_base_url
    return adapter


class GraphClient:
    """The Graph calls of the app, as raw JSON requests through the SDK's adapter.

    One per poll: it owns the HTTP connections (reused across the poll's requests) and
    closes them when the poll ends.
    """

    def __init__(self, adapter: GraphRequestAdapter, http_client: httpx.AsyncClient) -> None:
        self._adapter = adapter
        self._http_client = http_client

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphClient:
        connections = settings.graph_max_concurrency + 4
        http_client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.graph_timeout_seconds),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            http2=True,
        )
        return cls(create_graph_adapter(settings, http_client), http_client)

    async def close(self) -> None:
        await self._http_client.aclose()

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- School Data Sync (classic), Graph beta ---------------------------------------------

    def list_synchronization_profiles(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of ``GET /beta/education/synchronizationProfiles``, following nextLink."""
        return self.get_pages("{+baseurl}/beta/education/synchronizationProfiles", {})

    async def get_profile_status(self, profile_id: str) -> dict[str, Any]:
        """``GET /beta/education/synchronizationProfiles/{id}/profileStatus``, every member of
        the evolvable status enum included."""
        return await self.get_json(
            "{+baseurl}/beta/education/synchronizationProfiles/{id}/profileStatus",
            {"id": profile_id},
        )

    # -- Entra ID provisioning, Graph v1.0 --------------------------------------------------

    def list_synchronization_jobs(
        self, service_principal_id: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of ``GET /v1.0/servicePrincipals/{id}/synchronization/jobs``."""
        return self.get_pages(
            "{+baseurl}/v1.0/servicePrincipals/{id}/synchronization/jobs",
            {"id": service_principal_id},
        )

    # -- Industry Data, Graph beta ----------------------------------------------------------

    def list_industry_data_runs(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of ``GET /beta/external/industryData/runs``."""
        return self.get_pages("{+baseurl}/beta/external/industryData/runs", {})

    async def get_industry_data_run_statistics(self, run_id: str) -> dict[str, Any]:
        """``GET /beta/external/industryData/runs/{id}/getStatistics``."""
        return await self.get_json(
            "{+baseurl}/beta/external/industryData/runs/{id}/getStatistics", {"id": run_id}
        )

    # -- generic requests -------------------------------------------------------------------

    async def get_pages(
        self, url_template: str, path_parameters: dict[str, str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's ``value`` of a Graph collection, following ``@odata.nextLink``."""
        page = await self.get_json(url_template, path_parameters)
        followed: set[str] = set()
        while True:
            value = page.get("value")
            if not isinstance(value, list):
                raise GraphError(200, "invalidResponse", "A collection page has no 'value' array.")
            yield value
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            # A link seen before would page forever: stop, as an incomplete listing.
            if not isinstance(next_link, str) or next_link in followed:
                raise GraphError(200, "invalidResponse", "The nextLink repeats an earlier page.")
            followed.add(next_link)
            page = await self.get_json(url=next_link)

    async def get_json(
        self,
        url_template: str | None = None,
        path_parameters: dict[str, str] | None = None,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """GET a JSON object; any failure (HTTP error, timeout, bad JSON) is a GraphError."""
        info = RequestInformation(Method.GET, url_template, path_parameters)
        if url is not None:
            info.url = url  # an absolute link Graph gave (nextLink), used as is
        info.headers.try_add("Accept", "application/json")
        # Every source has evolvable enums (status, code, state): ask for all their members.
        info.headers.try_add("Prefer", INCLUDE_UNKNOWN_ENUM_MEMBERS)
        for name, value in (headers or {}).items():
            info.headers.try_add(name, value)
        try:
            body = await self._adapter.send_primitive_async(info, "bytes", _ERROR_MAP)
        except APIError as error:
            raise _graph_error(error) from error
        except ClientAuthenticationError as error:
            # No token (identity missing or not allowed): the poll reports it like a refusal.
            message = f"No token for Graph: {error.message}"
            raise GraphError(None, "authenticationFailed", message) from error
        except httpx.TimeoutException as error:
            raise GraphError(
                None, "timeout", f"Graph did not answer in time ({error!r})."
            ) from error
        except httpx.TransportError as error:
            raise GraphError(
                None, "connectionError", f"Graph could not be reached: {error}."
            ) from error
        try:
            document = parse_json(body or b"")
        except ValueError as error:
            raise GraphError(
                200, "invalidJson", f"Graph sent a body that is not JSON: {error}."
            ) from error
        if not isinstance(document, dict):
            raise GraphError(200, "invalidResponse", "Graph sent JSON that is not an object.")
        return document


def _graph_error(error: APIError) -> GraphError:
    status = error.response_status_code
    main = getattr(error, "error", None)  # ODataError's MainError, when the body parsed
    code = getattr(main, "code", None) or f"http{status}"
    message = getattr(main, "message", None) or f"Graph answered HTTP {status}."
    return GraphError(status, code, message)
