"""Several tenants behind one server, told apart as Graph tells them apart: by the ``tid``
claim of the request's bearer token.

The tenant that serves (the parent, ``SimulatedTenant``) answers requests without a token, with
a token that names no tenant and with one that names it; :meth:`Tenancy.add_tenant` adds the
others (children), each a whole tenant of its own (data, faults, budget, request log) served by
the same server. Tokens are read, never verified: the app's ``GRAPH_AUTH=simulated`` credential
mints unsigned ones (``{"alg": "none"}``, an empty signature), and a real token's signature is
ignored as well. A token Graph could not read, a tenant it does not know and a tenant that has
not consented to the app are answered 401 ``InvalidAuthenticationToken``, with the AADSTS
messages Entra ID gives.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self

# The parent's tenant id, which is also its organization's id (the id that organization has
# always had: uuid5 of "organization" in the namespace of generated ids).
DEFAULT_TENANT_ID = "d4c0e10e-ffcb-554a-bc32-0c3d011d693f"
# The control API's query parameter naming the tenant an endpoint steers (none: the parent).
TENANT_ID_PARAMETER = "tenantId"
UNAUTHENTICATED_CODE = "InvalidAuthenticationToken"
EMPTY_BEARER_MESSAGE = "Access token is empty."
MALFORMED_BEARER_MESSAGE = "Access token validation failure. Invalid audience."
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class TokenRejected(Exception):
    """A bearer token Graph would refuse: ``message`` is its 401's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_part(part: str) -> Any:
    """The JSON in one base64url part of a JWT; ValueError when it is not that."""
    if not (part and BASE64URL.fullmatch(part)):
        raise ValueError("not base64url")
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not base64url JSON") from exc


def bearer_claims(authorization: str | None) -> dict[str, Any]:
    """The claims of the request's bearer token, read without verifying any signature; {}
    without an Authorization header. TokenRejected for a header Graph would refuse: another
    scheme, an empty token, or one that is not ``header.payload.signature`` in base64url with
    JSON objects for header and payload (the signature may be empty, as unsigned ones are)."""
    if authorization is None:
        return {}
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise TokenRejected(MALFORMED_BEARER_MESSAGE)
    if not token:
        raise TokenRejected(EMPTY_BEARER_MESSAGE)
    parts = token.split(".")
    if len(parts) != 3 or not BASE64URL.fullmatch(parts[2]):
        raise TokenRejected(MALFORMED_BEARER_MESSAGE)
    try:
        header, claims = decode_part(parts[0]), decode_part(parts[1])
    except ValueError:
        raise TokenRejected(MALFORMED_BEARER_MESSAGE) from None
    if not (isinstance(header, dict) and isinstance(claims, dict)):
        raise TokenRejected(MALFORMED_BEARER_MESSAGE)
    if not isinstance(claims.get("tid", ""), str):
        raise TokenRejected(MALFORMED_BEARER_MESSAGE)
    return claims


def unsigned_token(claims: Mapping[str, Any]) -> str:
    """An unsigned JWT carrying ``claims``, as the app's ``GRAPH_AUTH=simulated`` credential
    mints them: ``base64url(header).base64url(claims).`` with an empty signature."""

    def encode(value: Mapping[str, Any]) -> str:
        raw = json.dumps(dict(value), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}."


def aadsts_trailer() -> str:
    """What Entra ID appends to every AADSTS message: trace, correlation and time."""
    now = datetime.now(UTC)
    return (
        f" Trace ID: {uuid.uuid4()} Correlation ID: {uuid.uuid4()} "
        f"Timestamp: {now:%Y-%m-%d %H:%M:%S}Z"
    )


def tenant_not_found_message(tenant_id: str) -> str:
    return (
        f"AADSTS90002: Tenant '{tenant_id}' not found. Check to make sure you have the correct "
        "tenant ID and are signing into the correct cloud. Check with your subscription "
        "administrator, this may happen if there are no active subscriptions for the tenant."
        + aadsts_trailer()
    )


def not_consented_message(app_id: str) -> str:
    return (
        "AADSTS65001: The user or administrator has not consented to use the application "
        f"with ID '{app_id}'. Send an interactive authorization request for this user and "
        "resource." + aadsts_trailer()
    )


class Tenancy:
    """A tenant's identity (``tenant_id``, ``consented``) and, on the parent, the registry
    of the children it serves. A child delegates the registry to its parent, so that every
    tenant of a server sees the same ones."""

    tenant_id: str
    consented: bool

    def _init_tenancy(self, tenant_id: str) -> None:
        if not (isinstance(tenant_id, str) and tenant_id.strip()):
            raise ValueError(f"A tenant id must be a non-empty string, not {tenant_id!r}.")
        self.tenant_id = tenant_id
        self.consented = True
        self._parent: Self | None = None
        self._children: dict[str, Self] = {}

    def _new_tenant(self, tenant_id: str, display_name: str | None) -> Self:
        """A tenant like this one (same page sizes, latency, budget), not yet registered."""
        raise NotImplementedError

    @property
    def parent(self) -> Self | None:
        """The tenant whose server serves this one; None for that tenant itself."""
        return self._parent

    @property
    def _root(self) -> Self:
        return self._parent if self._parent is not None else self

    @property
    def tenants(self) -> dict[str, Self]:
        """The children of the server, by tenant id, in the order they were added."""
        return {child.tenant_id: child for child in self._root._children.values()}

    def add_tenant(
        self, tenant_id: str, *, consented: bool = True, display_name: str | None = None
    ) -> Self:
        """Serve one more tenant from the same server, for tokens whose ``tid`` is
        ``tenant_id``; steer it as this one is steered (its data, faults, budget and request
        log are its own). Its organization's id is ``tenant_id`` and its name
        ``display_name`` ("Tenant <id[:8]>" if None). ValueError for an id already served."""
        root = self._root
        if not isinstance(tenant_id, str) or root._served(tenant_id) is not None:
            raise ValueError(f"Tenant {tenant_id!r} is already served (or not a string).")
        child = root._new_tenant(tenant_id, display_name)
        child._parent = root
        child._consent(consented)
        root._children[tenant_id.lower()] = child
        return child

    def set_consented(self, tenant_id: str, consented: bool) -> None:
        """Whether a child has consented to the app: until it has, its tokens are answered
        401 (AADSTS65001). KeyError for an unknown id, ValueError for the parent (always
        consented: it is where requests without a token go)."""
        tenant = self._root._served(tenant_id)
        if tenant is None:
            raise KeyError(tenant_id)
        if tenant._parent is None:
            raise ValueError("The parent tenant is always consented.")
        tenant._consent(consented)

    def _consent(self, consented: bool) -> None:
        if not isinstance(consented, bool):
            raise ValueError(f"consented must be true or false, not {consented!r}.")
        self.consented = consented

    def _served(self, tenant_id: str | None) -> Self | None:
        """The tenant of the server whose id is ``tenant_id`` (any case); None if none is."""
        if tenant_id is None:
            return None
        if tenant_id.lower() == self.tenant_id.lower():
            return self
        return self._children.get(tenant_id.lower())

    def _tenant_for(self, headers: Mapping[str, str]) -> tuple[Self, str | None]:
        """The tenant a Graph request goes to, and the message of the 401 it answers (None:
        it serves the request). Requests whose token it cannot read, or names no tenant it
        serves, are the parent's to answer (and to record)."""
        root = self._root
        try:
            claims = bearer_claims(headers.get("Authorization"))
        except TokenRejected as exc:
            return root, exc.message
        tenant_id = claims.get("tid") or None
        if tenant_id is None:
            return root, None
        tenant = root._served(tenant_id)
        if tenant is None:
            return root, tenant_not_found_message(tenant_id)
        if not tenant.consented:
            app_id = claims.get("appid") or claims.get("azp") or ""
            return tenant, not_consented_message(str(app_id))
        return tenant, None
