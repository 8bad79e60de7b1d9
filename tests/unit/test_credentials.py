"""Graph credentials: the simulated token, one credential per tenant and mode, the
federated assertion, Entra's refusals as a tenant's consent state, the admin consent link,
and the token a Graph client sends (over real HTTP to a small server)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.identity.aio import ClientAssertionCredential, DefaultAzureCredential

from shared.core.errors import InvalidInputError, SettingsError
from shared.graph import credentials
from shared.graph.client import GraphClient
from shared.graph.credentials import (
    SIMULATED_APP_ID,
    TOKEN_EXCHANGE_SCOPE,
    ConsentProblem,
    FederatedCredential,
    ManagedIdentityAssertion,
    SimulatedCredential,
    TenantCredentials,
    admin_consent_url,
    authentication_provider,
    consent_problem,
    make_credential,
)
from shared.graph.errors import GraphError
from shared.settings import Settings
from shared.sources import load_settings
from tools.processes import free_port

HOME = "aaaaaaaa-0000-4000-8000-000000000001"
OTHER = "bbbbbbbb-0000-4000-8000-000000000002"
APP = "cccccccc-0000-4000-8000-000000000003"
IDENTITY = "dddddddd-0000-4000-8000-000000000004"
GRAPH = "https://graph.microsoft.com"


def settings_with(**changes: Any) -> Settings:
    base = load_settings(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "GRAPH_AUTH": "none"}
    )
    return dataclasses.replace(base, **changes)


def decode(part: str) -> dict[str, Any]:
    assert "=" not in part  # base64url without padding
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims_of(token: str) -> dict[str, Any]:
    header, payload, signature = token.split(".")
    assert decode(header) == {"alg": "none", "typ": "JWT"}
    assert signature == ""
    return decode(payload)


# -- the simulated token ------------------------------------------------------------------------


async def test_a_simulated_token_is_an_unsigned_jwt_naming_the_tenant() -> None:
    async with SimulatedCredential(OTHER, APP, "http://graph:8080") as credential:
        token = await credential.get_token("http://graph:8080/.default")
    assert isinstance(token, AccessToken)
    assert token.token.endswith(".") and token.token.count(".") == 2
    claims = claims_of(token.token)
    assert claims["tid"] == OTHER
    assert claims["appid"] == APP
    assert claims["aud"] == "http://graph:8080"
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] == claims["iat"] + 3600 == token.expires_on


def test_a_simulated_token_without_a_tenant_names_none_and_a_fixed_app() -> None:
    claims = claims_of(SimulatedCredential(None, None, GRAPH).mint(now=1_700_000_000))
    assert claims == {
        "appid": SIMULATED_APP_ID,
        "aud": GRAPH,
        "iat": 1_700_000_000,
        "nbf": 1_700_000_000,
        "exp": 1_700_003_600,
    }


# -- make_credential ----------------------------------------------------------------------------


def test_no_auth_has_no_credential() -> None:
    assert make_credential(settings_with(graph_auth="none"), None) is None
    assert make_credential(settings_with(graph_auth="none"), OTHER) is None


async def test_azure_is_default_azure_credential_for_the_home_tenant_only() -> None:
    settings = settings_with(graph_auth="azure", home_tenant_id=HOME)
    for tenant in (None, HOME, HOME.upper()):
        credential = make_credential(settings, tenant)
        assert isinstance(credential, DefaultAzureCredential)
        await credential.close()
    with pytest.raises(SettingsError, match=r"home tenant only.*GRAPH_AUTH=federated"):
        make_credential(settings, OTHER)
    with pytest.raises(SettingsError, match="GRAPH_AUTH=federated"):
        make_credential(settings_with(graph_auth="azure"), OTHER)  # no home tenant said


async def test_federated_is_a_client_assertion_credential_of_the_app_in_the_tenant() -> None:
    settings = settings_with(
        graph_auth="federated",
        graph_app_client_id=APP,
        managed_identity_client_id=IDENTITY,
        home_tenant_id=HOME,
    )
    home, other = make_credential(settings, None), make_credential(settings, OTHER)
    try:
        assert isinstance(home, ClientAssertionCredential)
        assert (home.tenant_id, home.client_id) == (HOME, APP)
        assert isinstance(other, ClientAssertionCredential)
        assert (other.tenant_id, other.client_id) == (OTHER, APP)
    finally:
        await home.close()
        await other.close()


def test_federated_without_a_home_tenant_names_the_setting() -> None:
    settings = settings_with(graph_auth="federated", graph_app_client_id=APP)
    with pytest.raises(SettingsError, match="HOME_TENANT_ID"):
        make_credential(settings, None)
    with pytest.raises(SettingsError, match="GRAPH_APP_CLIENT_ID"):
        make_credential(settings_with(graph_auth="federated", home_tenant_id=HOME), None)


def test_simulated_names_the_tenant_or_the_home_tenant() -> None:
    settings = settings_with(
        graph_auth="simulated", home_tenant_id=HOME, graph_base_url="http://graph:8080"
    )
    home, other = make_credential(settings, None), make_credential(settings, OTHER)
    assert isinstance(home, SimulatedCredential) and isinstance(other, SimulatedCredential)
    assert (home.tenant_id, home.client_id, home.audience) == (
        HOME,
        SIMULATED_APP_ID,
        "http://graph:8080",
    )
    assert other.tenant_id == OTHER
    assert make_credential(settings_with(graph_auth="simulated"), None).tenant_id is None


# -- the federated assertion --------------------------------------------------------------------


class Assertion:
    """What ManagedIdentityAssertion is to a federated credential, counted."""

    made: list[Assertion] = []

    def __init__(self, client_id: str | None = None) -> None:
        self.client_id = client_id
        self.calls = 0
        self.closed = 0
        Assertion.made.append(self)

    def __call__(self) -> str:
        self.calls += 1
        return "the-managed-identity-token"

    def close(self) -> None:
        self.closed += 1


class EntraResponse:
    def __init__(self, request: Any, status: int, body: dict[str, Any]) -> None:
        self.request = request
        self.status_code = status
        self.reason = "OK" if status == 200 else "Bad Request"
        self.headers = {"content-type": "application/json"}
        self.content_type = "application/json"
        self._body = json.dumps(body).encode()

    def body(self) -> bytes:
        return self._body

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode()


class Entra(AsyncHttpTransport):
    """Microsoft Entra's token endpoint, as azure-identity's transport sees it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.answer, self.requests = status, body, []

    async def send(self, request: Any, **kwargs: Any) -> Any:
        self.requests.append(request)
        return EntraResponse(request, self.status, self.answer)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Entra:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


async def test_a_federated_credential_sends_the_managed_identitys_token_as_assertion() -> None:
    entra = Entra(200, {"access_token": "graph-token", "expires_in": 3600, "token_type": "Bearer"})
    assertion = Assertion()
    credential = FederatedCredential(OTHER, APP, assertion, owned=False, transport=entra)  # type: ignore[arg-type]
    token = await credential.get_token(f"{GRAPH}/.default")
    await credential.close()
    assert token.token == "graph-token"
    (request,) = entra.requests
    assert request.url == f"https://login.microsoftonline.com/{OTHER}/oauth2/v2.0/token"
    assert request.data["client_assertion"] == "the-managed-identity-token"
    assert request.data["client_id"] == APP
    assert assertion.calls == 1
    assert assertion.closed == 0  # shared: its owner closes it


async def test_a_federated_credential_closes_the_assertion_it_owns() -> None:
    assertion = Assertion()
    await FederatedCredential(HOME, APP, assertion, owned=True).close()  # type: ignore[arg-type]
    assert assertion.closed == 1


def test_the_assertion_is_the_managed_identitys_token_for_the_token_exchange() -> None:
    asked: list[tuple[str, ...]] = []

    class Identity:
        def get_token(self, *scopes: str) -> AccessToken:
            asked.append(scopes)
            return AccessToken("mi-token", 0)

    assertion = ManagedIdentityAssertion(IDENTITY)
    assertion._credential.close()
    assertion._credential = Identity()  # type: ignore[assignment]
    assert assertion() == "mi-token"
    assert asked == [(TOKEN_EXCHANGE_SCOPE,)]
    assert TOKEN_EXCHANGE_SCOPE == "api://AzureADTokenExchange/.default"


# -- TenantCredentials --------------------------------------------------------------------------


async def test_one_credential_per_tenant_made_once() -> None:
    settings = settings_with(graph_auth="simulated", home_tenant_id=HOME)
    cache = TenantCredentials()
    home = cache.get(settings, None)
    assert cache.get(settings, HOME) is home
    assert cache.get(settings, HOME.upper()) is home
    other = cache.get(settings, OTHER)
    assert other is not home and other.tenant_id == OTHER
    assert cache.get(settings, OTHER.upper()) is other
    # Other settings (reloaded): another credential.
    assert cache.get(dataclasses.replace(settings, graph_app_client_id=APP), None) is not home
    await cache.close()
    assert cache.get(settings, None) is not home  # forgotten once closed


async def test_closing_closes_every_credential_and_the_shared_assertion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Assertion.made.clear()
    monkeypatch.setattr(credentials, "ManagedIdentityAssertion", Assertion)
    closed: list[str] = []

    async def close(self: FederatedCredential) -> None:
        closed.append(self.tenant_id)

    monkeypatch.setattr(FederatedCredential, "close", close)
    settings = settings_with(
        graph_auth="federated",
        graph_app_client_id=APP,
        managed_identity_client_id=IDENTITY,
        home_tenant_id=HOME,
    )
    cache = TenantCredentials()
    home, other = cache.get(settings), cache.get(settings, OTHER)
    assert (home.tenant_id, other.tenant_id) == (HOME, OTHER)
    assert [made.client_id for made in Assertion.made] == [IDENTITY]  # one, shared
    await cache.close()
    assert sorted(closed) == sorted([HOME, OTHER])
    assert Assertion.made[0].closed == 1


def test_a_tenant_the_settings_cannot_serve_is_refused_every_time() -> None:
    cache = TenantCredentials()
    settings = settings_with(graph_auth="azure", home_tenant_id=HOME)
    for _ in range(2):
        with pytest.raises(SettingsError):
            cache.get(settings, OTHER)
    assert cache.get(settings_with(graph_auth="none"), OTHER) is None


# -- consent ------------------------------------------------------------------------------------


def entra_error(code: str, description: str) -> ClientAuthenticationError:
    """As azure-identity words Entra's refusal."""
    return ClientAuthenticationError(
        message=f"Microsoft Entra ID error '(invalid_client) {code}: {description} "
        "Trace ID: 0b5a5c1e-1111-2222-3333-444455556666 Correlation ID: "
        "9c1f0d2e-7777-8888-9999-000011112222 Timestamp: 2025-01-01 00:00:00Z'"
    )


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("AADSTS65001", "consentNeeded"),
        ("AADSTS650051", "consentNeeded"),
        ("AADSTS650052", "consentNeeded"),
        ("AADSTS700016", "consentNeeded"),
        ("AADSTS7000229", "consentNeeded"),
        ("AADSTS500011", "consentNeeded"),
        ("AADSTS90002", "unavailable"),
        ("AADSTS90072", "unavailable"),
        ("AADSTS50020", "unavailable"),
        ("AADSTS530003", "unavailable"),
        ("AADSTS700024", "unavailable"),
        ("AADSTS70021", "unavailable"),
    ],
)
def test_entras_refusals_are_a_consent_state(code: str, state: str) -> None:
    problem = consent_problem(entra_error(code, f"Application with identifier '{APP}' failed."))
    assert problem is not None
    assert (problem.state, problem.code) == (state, code)
    assert "Trace ID" not in problem.message and len(problem.message) <= 200


def test_an_unknown_entra_code_is_unavailable_in_entras_first_sentence() -> None:
    error = entra_error(
        "AADSTS7000215",
        "Invalid client secret provided. Ensure the secret being sent is the client secret "
        "value, not the client secret ID, eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.c2ln.",
    )
    assert consent_problem(error) == ConsentProblem(
        "unavailable", "AADSTS7000215", "Invalid client secret provided."
    )


def test_a_message_never_carries_a_token() -> None:
    error = entra_error("AADSTS50000", "Token eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.c2ln refused.")
    problem = consent_problem(error)
    assert problem is not None and problem.code == "AADSTS50000"
    assert "eyJ" not in problem.message and "[token]" in problem.message


async def test_the_refusal_of_entras_token_endpoint_is_read_through_the_graph_error() -> None:
    """azure-identity's own error from Entra's answer, wrapped as GraphClient wraps it."""
    description = (
        f"AADSTS700016: Application with identifier '{APP}' was not found in the directory "
        "'Contoso'. This can happen if the application has not been installed by the "
        "administrator of the tenant. Trace ID: x Correlation ID: y Timestamp: z"
    )
    entra = Entra(400, {"error": "unauthorized_client", "error_description": description})
    credential = FederatedCredential(OTHER, APP, Assertion(), owned=False, transport=entra)  # type: ignore[arg-type]
    with pytest.raises(ClientAuthenticationError) as raised:
        await credential.get_token(f"{GRAPH}/.default")
    await credential.close()
    wrapped = GraphError(None, "authenticationFailed", "No token for Graph.")
    wrapped.__cause__ = raised.value
    for error in (raised.value, wrapped):
        problem = consent_problem(error)
        assert problem is not None
        assert (problem.state, problem.code) == ("consentNeeded", "AADSTS700016")


def test_graphs_refusals_are_a_consent_state() -> None:
    simulated = GraphError(
        401,
        "InvalidAuthenticationToken",
        "AADSTS65001: The user or administrator has not consented.",
    )
    assert consent_problem(simulated) == ConsentProblem(
        "consentNeeded", "AADSTS65001", "The tenant's administrator has not consented to the app."
    )
    expired = consent_problem(
        GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    )
    assert expired is not None
    assert (expired.state, expired.code) == ("unavailable", "InvalidAuthenticationToken")
    denied = consent_problem(
        GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete.")
    )
    assert denied is not None
    assert (denied.state, denied.code) == ("consentNeeded", "Authorization_RequestDenied")
    assert "Insufficient privileges" in denied.message


@pytest.mark.parametrize(
    "error",
    [
        GraphError(404, "Request_ResourceNotFound", "Resource not found."),
        GraphError(503, "serviceUnavailable", "Try later."),
        GraphError(None, "timeout", "Graph did not answer in time."),
        GraphError(400, "BadRequest", "AADSTS65001 in a body that is not about a token."),
        ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"),
        ValueError("AADSTS65001"),
    ],
    ids=repr,
)
def test_other_failures_are_no_consent_problem(error: BaseException) -> None:
    assert consent_problem(error) is None


# -- the admin consent link ---------------------------------------------------------------------


def test_the_admin_consent_url_names_tenant_app_and_redirect() -> None:
    redirect = "https://app.example/api/tenants/consented?x=1&y=a b"
    url = admin_consent_url(APP.upper(), OTHER, redirect)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "login.microsoftonline.com",
        f"/{OTHER}/adminconsent",
    )
    assert parse_qs(parts.query) == {"client_id": [APP], "redirect_uri": [redirect]}
    assert "redirect_uri=https%3A%2F%2Fapp.example%2Fapi%2Ftenants%2Fconsented%3Fx%3D1%26y" in url
    assert admin_consent_url(APP, OTHER, None).endswith(f"/adminconsent?client_id={APP}")


@pytest.mark.parametrize(
    ("client_id", "tenant_id", "target"),
    [
        ("not-a-guid", OTHER, "clientId"),
        (APP, "contoso.onmicrosoft.com", "tenantId"),
        (APP, f"{OTHER}/../common", "tenantId"),
        (APP, "common", "tenantId"),
    ],
)
def test_the_admin_consent_url_takes_guids_only(
    client_id: str, tenant_id: str, target: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        admin_consent_url(client_id, tenant_id, None)
    assert raised.value.target == target


# -- what a Graph client sends ------------------------------------------------------------------


@pytest.fixture
async def graph_server() -> AsyncIterator[tuple[str, list[str | None]]]:
    """A tiny Graph: every request's Authorization header, recorded."""
    seen: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"id": "org"})

    runner = web.ServerRunner(web.Server(answer))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def env_settings(base_url: str, auth: str) -> Settings:
    return load_settings(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "GRAPH_BASE_URL": base_url,
            "GRAPH_AUTH": auth,
            "HOME_TENANT_ID": HOME,
            "GRAPH_TIMEOUT_SECONDS": "2",
        }
    )


async def test_a_simulated_client_sends_the_home_tenants_unsigned_token(
    graph_server: tuple[str, list[str | None]],
) -> None:
    base_url, seen = graph_server
    async with GraphClient.from_settings(env_settings(base_url, "simulated")) as graph:
        assert await graph.get_json("{+baseurl}/v1.0/organization") == {"id": "org"}
    (authorization,) = seen
    assert authorization is not None and authorization.startswith("Bearer ")
    claims = claims_of(authorization.removeprefix("Bearer "))
    assert (claims["tid"], claims["aud"]) == (HOME, base_url)


async def test_a_client_given_a_tenants_credential_uses_it_and_leaves_it_open(
    graph_server: tuple[str, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, seen = graph_server
    credential = SimulatedCredential(OTHER, APP, base_url)
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    monkeypatch.setattr(credential, "close", close)
    settings = env_settings(base_url, "simulated")
    async with GraphClient.from_settings(settings, credential=credential) as graph:
        await graph.get_json("{+baseurl}/v1.0/organization")
    assert claims_of((seen[0] or "").removeprefix("Bearer "))["tid"] == OTHER
    assert closed == []  # the cache's to close


async def test_a_client_without_auth_sends_no_token(
    graph_server: tuple[str, list[str | None]],
) -> None:
    base_url, seen = graph_server
    async with GraphClient.from_settings(env_settings(base_url, "none")) as graph:
        await graph.get_json("{+baseurl}/v1.0/organization")
    assert seen == [None]


async def test_an_unconsented_tenant_through_the_client_is_a_consent_problem(
    graph_server: tuple[str, list[str | None]],
) -> None:
    class Refused:
        async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            raise entra_error("AADSTS65001", "The user or administrator has not consented.")

        async def close(self) -> None:
            return None

    base_url, seen = graph_server
    settings = env_settings(base_url, "azure")  # kiota's provider: http to 127.0.0.1 only
    async with GraphClient.from_settings(settings, credential=Refused()) as graph:
        with pytest.raises(GraphError) as raised:
            await graph.get_json("{+baseurl}/v1.0/organization")
    assert raised.value.code == "authenticationFailed"
    problem = consent_problem(raised.value)
    assert problem is not None and (problem.state, problem.code) == ("consentNeeded", "AADSTS65001")
    assert seen == []  # nothing sent without a token


async def test_the_simulated_token_goes_to_graph_base_urls_origin_only() -> None:
    """Plain http to a host that is not localhost (a container's name), which kiota's
    azure-identity provider refuses; never to another origin."""
    settings = settings_with(graph_auth="simulated", graph_base_url="http://graph-tenant:8080")
    provider = authentication_provider(settings, make_credential(settings, OTHER))
    tokens = provider.access_token_provider  # type: ignore[attr-defined]
    token = await tokens.get_authorization_token("http://graph-tenant:8080/v1.0/organization")
    assert claims_of(token)["tid"] == OTHER
    for elsewhere in (
        "http://graph-tenant:9090/v1.0/organization",
        "https://graph-tenant:8080/v1.0/organization",
        "http://evil.example:8080/v1.0/organization",
    ):
        assert await tokens.get_authorization_token(elsewhere) == ""


def test_a_simulated_credential_outside_simulated_mode_gets_kiotas_provider() -> None:
    settings = settings_with(graph_auth="azure", graph_base_url="http://graph-tenant:8080")
    provider = authentication_provider(settings, SimulatedCredential(None, None, GRAPH))
    assert type(provider).__name__ == "AzureIdentityAuthenticationProvider"
    none = settings_with(graph_auth="none")
    assert type(authentication_provider(none, SimulatedCredential(None, None, GRAPH))).__name__ == (
        "AnonymousAuthenticationProvider"
    )
