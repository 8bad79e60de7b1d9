"""Which tenant a piece of work is for: a poll, a route, a store call and an event each get
a ``TenantScope``, never a global, so that a tenant id in a queue message is all the work
needs. The home tenant is the deployment's own (a single-tenant deployment has only it); its
stored rows keep the keys they had before there were tenants."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a tenant id is: a GUID, kept in lower case.
TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The home tenant's name when the deployment does not say its id (HOME_TENANT_ID).
HOME_ALIAS = "home"
# What joins a tenant id and a source in a stored key (a source name never holds it).
SEPARATOR = "|"


@dataclass(frozen=True)
class TenantScope:
    """One tenant: its id (a GUID, or ``home`` for a home tenant whose id is not said) and
    whether it is the home tenant."""

    tenant_id: str
    home: bool = False

    def key(self, name: str) -> str:
        """A stored key of this tenant's: the home tenant's as it always was, another's
        ``{tenantId}|{name}``."""
        return name if self.home else f"{self.tenant_id}{SEPARATOR}{name}"

    def name_of(self, key: str) -> str | None:
        """The name in one of this tenant's keys (None: the key is another tenant's)."""
        if self.home:
            return None if SEPARATOR in key else key
        prefix = f"{self.tenant_id}{SEPARATOR}"
        return key[len(prefix) :] if key.startswith(prefix) else None

    @property
    def key_prefix(self) -> str:
        """What every key of this tenant's starts with ("" for the home tenant)."""
        return "" if self.home else f"{self.tenant_id}{SEPARATOR}"


def home_scope(home_tenant_id: str | None) -> TenantScope:
    """The home tenant's scope (its id, or ``home`` when the deployment does not say it)."""
    return TenantScope(home_tenant_id or HOME_ALIAS, home=True)
