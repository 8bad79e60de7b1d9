"""Graph tokens: the one credential per tenant (GRAPH_AUTH), the request adapter's
authentication with it, and what Entra's refusals say about a tenant's consent.

- ``azure``: DefaultAzureCredential, the home tenant only (as a single-tenant deployment
  always did).
- ``federated``: azure-identity's ClientAssertionCredential for the multi-tenant app
  GRAPH_APP_CLIENT_ID in the tenant, its assertion the managed identity's token for
  ``api://AzureADTokenExchange`` (no secret anywhere).
- ``simulated``: an unsigned token naming the tenant, for the simulated Graph
  (tools/graph_tenant) alone: it reads the tenant from the token's ``tid``.
- ``none``: no token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import ClientAssertionCredential
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    AnonymousAuthenticationProvider,
    AuthenticationProvider,
    BaseBearerTokenAuthenticationProvider,
)

from shared.core.env import OBJECT_ID
from shared.core.errors import InvalidInputError, SettingsError
from shared.graph.errors import GraphError
from shared.settings import Settings

logger = logging.getLogger(__name__)

# The app id a simulated token names when GRAPH_APP_CLIENT_ID is not set.
SIMULATED_APP_ID = "5e1f0a7e-0000-4000-8000-00000000a770"
SIMULATED_TOKEN_SECONDS = 3600
# The audience of the managed identity's token that a federated credential accepts.
TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"  # noqa: S105 - a scope
ADMIN_CONSENT_AUTHORITY = "https://login.microsoftonline.com"


# -- the simulated tenant's token ---------------------------------------------------------------


def _base64url(document: dict[str, Any]) -> str:
    text = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode("ascii")


class SimulatedCredential:
    """An async token credential minting an unsigned JWT (``alg: none``) that names the
    tenant (``tid``), the app (``appid``) and the audience. Nothing but the simulated Graph
    accepts it."""

    def __init__(self, tenant_id: str | None, client_id: str | None, audience: str) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id or SIMULATED_APP_ID
        self.audience = audience

    def mint(self, now: int | None = None) -> str:
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {} if self.tenant_id is None else {"tid": self.tenant_id}
        claims |= {
            "appid": self.client_id,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + SIMULATED_TOKEN_SECONDS,
        }
        return f"{_base64url({'alg': 'none', 'typ': 'JWT'})}.{_base64url(claims)}."

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        now = int(time.time())
        return AccessToken(self.mint(now), now + SIMULATED_TOKEN_SECONDS)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> SimulatedCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _SimulatedTokenProvider(AccessTokenProvider):
    """kiota's AzureIdentityAccessTokenProvider refuses http to any host but localhost, and
    the simulated Graph may be plain http elsewhere (a container's name): this one sends the
    simulated token to GRAPH_BASE_URL's scheme, host and port only."""

    def __init__(self, credential: SimulatedCredential, base_url: str) -> None:
        self._credential = credential
        self._origin = _origin(base_url)
        self._hosts = AllowedHostsValidator([urlsplit(base_url).hostname or ""])

    async def get_authorization_token(
        self,
        uri: str,
        additional_authentication_context: dict[str, Any] = {},  # noqa: B006
    ) -> str:
        if _origin(uri) != self._origin:
            return ""
        return (await self._credential.get_token(f"{self._credential.audience}/.default")).token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number
        return "", "", None


def authentication_provider(settings: Settings, credential: Any) -> AuthenticationProvider:
    """How the request adapter authenticates requests: anonymously without a credential (or
    with GRAPH_AUTH=none), the simulated token only with GRAPH_AUTH=simulated, else kiota's
    azure-identity provider (https only, to GRAPH_BASE_URL's host)."""
    if settings.graph_auth == "none" or credential is None:
        return AnonymousAuthenticationProvider()
    if settings.graph_auth == "simulated" and isinstance(credential, SimulatedCredential):
        return BaseBearerTokenAuthenticationProvider(
            _SimulatedTokenProvider(credential, settings.graph_base_url)
        )
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )

    return AzureIdentityAuthenticationProvider(
        credential,
        scopes=[f"{settings.graph_base_url}/.default"],
        allowed_hosts=[urlsplit(settings.graph_base_url).hostname or ""],
    )


# -- one tenant's credential ----------------------------------------------------------------------


class ManagedIdentityAssertion:
    """The managed identity's token for the token exchange: a federated credential's
    assertion, shared by every tenant's credential.

    ClientAssertionCredential calls its ``func`` synchronously, in the aio variant too
    (azure-identity 1.27), so this is the sync ManagedIdentityCredential: it caches its token
    and renews it before it ends, so the event loop waits on the identity endpoint only at a
    renewal (about once a day), not at each tenant's token.
    """

    def __init__(self, client_id: str | None) -> None:
        from azure.identity import ManagedIdentityCredential

        self._credential = ManagedIdentityCredential(client_id=client_id)

    def __call__(self) -> str:
        return self._credential.get_token(TOKEN_EXCHANGE_SCOPE).token

    def close(self) -> None:
        self._credential.close()


class FederatedCredential(ClientAssertionCredential):
    """ClientAssertionCredential for one tenant that also closes its assertion when it was
    made for it alone (TenantCredentials shares one and closes it itself)."""

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        assertion: ManagedIdentityAssertion,
        *,
        owned: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(tenant_id=tenant_id, client_id=client_id, func=assertion, **kwargs)
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._owned_assertion = assertion if owned else None

    async def close(self) -> None:
        await super().close()
        if self._owned_assertion is not None:
            self._owned_assertion.close()


def is_home_tenant(settings: Settings, tenant_id: str | None) -> bool:
    """None names the home tenant; so does HOME_TENANT_ID's own id."""
    home = settings.home_tenant_id
    return tenant_id is None or (home is not None and tenant_id.lower() == home.lower())


def make_credential(
    settings: Settings,
    tenant_id: str | None,
    *,
    assertion: ManagedIdentityAssertion | None = None,
) -> Any:
    """The credential for one tenant (None: the home tenant), or None with GRAPH_AUTH=none.
    ``assertion``: the federated credential's, shared (the caller closes it); without it a
    federated credential makes its own and closes it. SettingsError when the settings cannot
    give this tenant a token."""
    mode = settings.graph_auth
    if mode == "none":
        return None
    if mode == "azure":
        if not is_home_tenant(settings, tenant_id):
            raise SettingsError(
                "GRAPH_AUTH=azure polls the home tenant only; use GRAPH_AUTH=federated (a "
                "multi-tenant app, GRAPH_APP_CLIENT_ID) to poll other tenants."
            )
        from azure.identity.aio import DefaultAzureCredential

        return DefaultAzureCredential()
    tenant = tenant_id or settings.home_tenant_id
    if mode == "simulated":
        return SimulatedCredential(tenant, settings.graph_app_client_id, settings.graph_base_url)
    if tenant is None:
        raise SettingsError(
            "GRAPH_AUTH=federated needs HOME_TENANT_ID (or AZURE_TENANT_ID): the id of the "
            "tenant the deployment lives in, whose token the home tenant's poll uses."
        )
    if settings.graph_app_client_id is None:
        raise SettingsError("GRAPH_AUTH=federated needs GRAPH_APP_CLIENT_ID.")
    owned = assertion is None
    if assertion is None:
        assertion = ManagedIdentityAssertion(settings.managed_identity_client_id)
    return FederatedCredential(tenant, settings.graph_app_client_id, assertion, owned=owned)


def _basis(settings: Settings) -> tuple[str | None, ...]:
    """What a credential is made from: credentials made from other settings are not reused."""
    return (
        settings.graph_auth,
        settings.graph_app_client_id,
        settings.managed_identity_client_id,
        settings.home_tenant_id,
        settings.graph_base_url,
    )


class TenantCredentials:
    """One credential per tenant (the home tenant's under None), made on first use and kept
    (with the tokens it caches) until :meth:`close`. The composition root holds one."""

    def __init__(self) -> None:
        self._credentials: dict[tuple[tuple[str | None, ...], str | None], Any] = {}
        self._assertions: dict[str | None, ManagedIdentityAssertion] = {}

    def get(self, settings: Settings, tenant_id: str | None = None) -> Any:
        """The tenant's credential (None with GRAPH_AUTH=none); SettingsError as
        make_credential's."""
        tenant = None if is_home_tenant(settings, tenant_id) else (tenant_id or "").lower()
        key = (_basis(settings), tenant)
        if key not in self._credentials:
            assertion = None
            if settings.graph_auth == "federated":
                identity = settings.managed_identity_client_id
                assertion = self._assertions.get(identity)
                if assertion is None:
                    assertion = self._assertions[identity] = ManagedIdentityAssertion(identity)
            self._credentials[key] = make_credential(settings, tenant, assertion=assertion)
        return self._credentials[key]

    async def close(self) -> None:
        """Close every credential made (their HTTP sessions and tokens), and forget them."""
        credentials, self._credentials = list(self._credentials.values()), {}
        assertions, self._assertions = list(self._assertions.values()), {}
        results = await asyncio.gather(
            *(credential.close() for credential in credentials if credential is not None),
            return_exceptions=True,
        )
        for assertion in assertions:
            try:
                assertion.close()
            except Exception as error:  # closing the others matters more
                results.append(error)
        for result in results:
            if isinstance(result, BaseException):
                logger.warning("A Graph credential failed to close: %r", result)


# -- consent ------------------------------------------------------------------------------------

ConsentState = Literal["consentNeeded", "unavailable"]


@dataclass(frozen=True)
class ConsentProblem:
    """Why a tenant gives the app no token or no access: ``consentNeeded`` (an administrator
    of the tenant must consent, or consent again) or ``unavailable`` (the tenant, or the app's
    own setup, refuses for another reason); ``code`` is Entra's AADSTS code or Graph's."""

    state: ConsentState
    code: str
    message: str


_CONSENT_NEEDED = {
    "AADSTS65001": "The tenant's administrator has not consented to the app.",
    "AADSTS650051": "The tenant's consent to the app did not complete.",
    "AADSTS650052": "The app needs a service the tenant has not enabled or consented to.",
    "AADSTS700016": "The app is not in the tenant's directory: no administrator consented.",
    "AADSTS7000229": "The app has no service principal in the tenant.",
    "AADSTS500011": "Microsoft Graph was not found in the tenant for the app.",
}
_UNAVAILABLE = {
    "AADSTS90002": "The tenant was not found.",
    "AADSTS90072": "The app's identity has no access to the tenant.",
    "AADSTS50020": "The app's identity does not exist in the tenant.",
    "AADSTS530003": "The tenant's Conditional Access refused the token.",
    "AADSTS700024": "The managed identity's assertion is out of its time range (app setup).",
    "AADSTS70021": "No federated credential of the app matches the managed identity (app setup).",
}
_AADSTS = re.compile(r"\b(AADSTS\d{4,8})\b:?\s*([^\r\n]*)")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_MAX_MESSAGE = 200


def _short(text: str) -> str:
    """The first sentence of a service's message, bounded, with anything like a token cut."""
    text = _JWT.sub("[token]", text.strip())
    sentence = re.split(r"(?<=\.)\s|\s(?:Trace|Correlation) ID:", text, maxsplit=1)[0]
    return sentence if len(sentence) <= _MAX_MESSAGE else sentence[: _MAX_MESSAGE - 1] + "…"


def _entra_problem(text: str) -> ConsentProblem | None:
    found = _AADSTS.search(text)
    if found is None:
        return None
    code = found.group(1)
    if code in _CONSENT_NEEDED:
        return ConsentProblem("consentNeeded", code, _CONSENT_NEEDED[code])
    message = _UNAVAILABLE.get(code) or _short(found.group(2)) or f"Entra refused ({code})."
    return ConsentProblem("unavailable", code, message)


def _graph_problem(error: GraphError) -> ConsentProblem | None:
    entra = _entra_problem(f"{error.code} {error.message}")
    if entra is not None and error.status in (None, 401, 403):
        return entra
    if error.status == 401:
        return ConsentProblem(
            "unavailable", error.code, f"Graph refused the tenant's token: {_short(error.message)}"
        )
    if error.status == 403:
        # A token Graph refuses for want of a permission: the tenant's consent lacks a grant.
        return ConsentProblem(
            "consentNeeded",
            error.code,
            f"Graph refused the app in the tenant: {_short(error.message)}",
        )
    return None


def consent_problem(error: BaseException) -> ConsentProblem | None:
    """Entra's refusal of a tenant's token (a ClientAuthenticationError holding an AADSTS
    code, also as the cause of the Graph client's ``authenticationFailed``), or Graph's 401 or
    403, as the tenant's consent state; None for anything else (an outage, a timeout)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ClientAuthenticationError):
            return _entra_problem(current.message or str(current))
        if isinstance(current, GraphError):
            problem = _graph_problem(current)
            if problem is not None:
                return problem
        current = current.__cause__
    return None


def admin_consent_url(client_id: str, tenant_id: str, redirect_uri: str | None = None) -> str:
    """Where a tenant's administrator grants the app its permissions (Entra's admin consent
    endpoint); InvalidInputError unless both ids are GUIDs."""
    for name, value in (("clientId", client_id), ("tenantId", tenant_id)):
        if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
            raise InvalidInputError(f"{name} must be a GUID; got {value!r:.60}.", target=name)
    query = {"client_id": client_id.lower()}
    if redirect_uri is not None:
        query["redirect_uri"] = redirect_uri
    return f"{ADMIN_CONSENT_AUTHORITY}/{tenant_id.lower()}/adminconsent?{urlencode(query)}"
