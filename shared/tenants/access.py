"""Who may use one tenant's routes (``/api/tenants/{tenantId}/...``): a key of that tenant
(a customer's own flow: ``POST /api/tenants/{tenantId}/keys`` shows it once; only its digest
is kept), or, behind App Service Authentication, a signed-in person with the admin app role
or in one of the tenant's groups (an MSP's technicians per customer). A key of another
tenant, or a person who may not see the tenant, is answered as if the tenant did not exist
(404): never its data, not even that it is there.

A tenant key reads ``ssk.{tenantId}.{keyId}.{secret}``: what it opens is in it, and it is
checked against the digest kept for that id."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from shared.core.errors import NotFoundError, UnauthenticatedError
from shared.core.principal import ADMIN_ROLE, has_role
from shared.core.tenancy import TENANT_ID
from shared.core.time import utc_now
from shared.storage.store import StatusStore
from shared.storage.tenant_keys import KeptKey
from shared.tenants.models import Tenant

_KEY = re.compile(rf"ssk\.({TENANT_ID.pattern})\.([0-9a-f]{{32}})\.[A-Za-z0-9_-]{{43}}")
_GROUP_CLAIMS = ("groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")


@dataclass(frozen=True)
class Caller:
    """What a request to a tenant's route presents: a key (header or ``?code=``) and, when
    the platform signs people in, the principal's claims."""

    key: str | None
    claims: list[tuple[str, str]] | None


def hidden(tenant_id: str) -> NotFoundError:
    """The answer for a tenant the caller may not see: as for one that does not exist."""
    return NotFoundError(f"The tenant '{tenant_id}' is not registered (POST /api/tenants adds it).")


async def check_access(store: StatusStore, tenant: Tenant, caller: Caller) -> None:
    """Pass, or raise: UnauthenticatedError without a key or sign-in the app checks,
    NotFoundError (``hidden``) for a caller of another tenant."""
    if caller.key:
        if await tenant_of_key(store, caller.key) == tenant.tenantId:
            return
        if _KEY.fullmatch(caller.key):
            raise hidden(tenant.tenantId)
        raise UnauthenticatedError(
            "A tenant's routes take a key of that tenant (x-functions-key or ?code=): an "
            "admin makes one with POST /api/tenants/{tenantId}/keys."
        )
    if caller.claims is not None:
        groups = {value.lower() for kind, value in caller.claims if kind in _GROUP_CLAIMS}
        if has_role(caller.claims, ADMIN_ROLE) or groups & set(tenant.groups):
            return
        raise hidden(tenant.tenantId)
    raise UnauthenticatedError("Send a key of this tenant (x-functions-key or ?code=).")


async def tenant_of_key(store: StatusStore, key: str) -> str | None:
    """The tenant a presented key opens (None: not a tenant key, or not one kept)."""
    found = _KEY.fullmatch(key.strip())
    if found is None:
        return None
    tenant_id, key_id = found.group(1), found.group(2)
    kept = await store.tenant_keys.get(tenant_id, key_id)
    if kept is None or not hmac.compare_digest(kept.sha256, _digest(key.strip())):
        return None
    return tenant_id


async def make_key(store: StatusStore, tenant: Tenant, name: str) -> dict[str, str]:
    """A new key of the tenant: its id, name and creation time, and the key itself (shown
    this once)."""
    key_id = uuid.uuid4().hex
    key = f"ssk.{tenant.tenantId}.{key_id}.{secrets.token_urlsafe(32)}"
    kept = KeptKey(id=key_id, name=name, created_date_time=utc_now(), sha256=_digest(key))
    await store.tenant_keys.add(tenant.tenantId, kept)
    return {**_shown(tenant, kept), "key": key}


async def keys_of(store: StatusStore, tenant: Tenant) -> list[dict[str, str]]:
    """The tenant's keys, without the keys: id, name, when made, oldest first."""
    kept = await store.tenant_keys.of_tenant(tenant.tenantId)
    keys = [_shown(tenant, key) for key in kept]
    return sorted(keys, key=lambda key: (key["createdDateTime"], key["id"]))


def _shown(tenant: Tenant, key: KeptKey) -> dict[str, str]:
    return {
        "id": key.id,
        "tenantId": tenant.tenantId,
        "name": key.name,
        "createdDateTime": key.created_date_time,
    }


async def revoke_key(store: StatusStore, tenant: Tenant, key_id: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{32}", key_id) or not await store.tenant_keys.delete(
        tenant.tenantId, key_id
    ):
        raise NotFoundError(f"The tenant has no key '{key_id}'.")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
