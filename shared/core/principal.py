"""Who App Service Authentication says is calling: the claims of the principal the platform
passes in ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON; the platform sets it and strips it from
callers, so it is trusted only while WEBSITE_AUTH_ENABLED says the platform is in front)."""

from __future__ import annotations

import base64
import json
from typing import Any

from shared.core.api import ApiCall

PRINCIPAL_HEADER = "x-ms-client-principal"
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
# The app role that opens the admin routes (tenants) behind App Service Authentication.
ADMIN_ROLE = "SyncStatus.Admin"


def principal_claims(header: str | None) -> list[tuple[str, str]] | None:
    """The principal's claims as (type, value) pairs (None: not signed in, or unreadable)."""
    if not header:
        return None
    try:
        principal: Any = json.loads(base64.b64decode(header, validate=False))
        claims = principal.get("claims") or []
        return [
            (str(c.get("typ", "")), str(c.get("val", ""))) for c in claims if isinstance(c, dict)
        ]
    except (ValueError, AttributeError, TypeError):
        return None


def has_role(claims: list[tuple[str, str]] | None, role: str) -> bool:
    return any(kind in ROLE_CLAIMS and value == role for kind, value in claims or [])


def caller_name(call: ApiCall, platform_sign_in: bool) -> str:
    """Who asked: the signed-in person App Service Authentication names (only when it is on:
    otherwise anyone could send the header), else the function key they used."""
    name = call.header("x-ms-client-principal-name") if platform_sign_in else None
    return name or "function key"
