"""How a tenant's rows are told apart in storage (``core.tenancy.TenantScope``): the home
tenant's keys are as they always were, another tenant's start with ``{tenantId}|``. Only the
tables use this: they scope keys on the way in and take the prefix off on the way out, so
above ``shared/storage`` an item's source is its source's name."""

from __future__ import annotations

from typing import Any, Literal

from azure.data.tables.aio import TableClient

from shared.core.tenancy import SEPARATOR, TenantScope
from shared.storage.codec import Entity
from shared.storage.tables import TableService


def scoped(scope: TenantScope, entity: Entity) -> Entity:
    """``entity`` with its PartitionKey in this tenant's keys (a copy; the home's as is)."""
    if scope.home:
        return entity
    return {**entity, "PartitionKey": scope.key(entity["PartitionKey"])}


def unscoped(scope: TenantScope, entity: Any) -> Any:
    """``entity`` (as read) with its PartitionKey back to the name it was written under;
    changed in place, so what the SDK read (its ETag) stays with it."""
    if not scope.home:
        name = scope.name_of(entity["PartitionKey"])
        if name is not None:
            entity["PartitionKey"] = name
    return entity


def is_ours(scope: TenantScope, key: str) -> bool:
    """Whether a stored key is this tenant's (the home's have no separator)."""
    return scope.name_of(key) is not None


def continuation_owner(continuation: dict[str, str]) -> str | None:
    """Whose rows a table's continuation goes on in: a tenant's id, or None for the home's."""
    partition = continuation.get("PartitionKey", "")
    return partition.split(SEPARATOR, 1)[0] if SEPARATOR in partition else None


def tenant_range(tenant_id: str) -> tuple[str, str]:
    """The key range of every key of one (non-home) tenant: ``{id}|`` up to ``{id}}``."""
    return f"{tenant_id}{SEPARATOR}", f"{tenant_id}{chr(ord(SEPARATOR) + 1)}"


async def delete_tenant_rows(
    tables: TableService,
    table: TableClient,
    scope: TenantScope,
    key: Literal["PartitionKey", "RowKey"] = "PartitionKey",
) -> int:
    """Delete every row of a (non-home) tenant's in ``table``, found by the tenant's range of
    ``key``; return how many."""
    low, high = tenant_range(scope.tenant_id)
    query = f"{key} ge @low and {key} lt @high"
    return await tables.delete_where(table, query, {"low": low, "high": high})
